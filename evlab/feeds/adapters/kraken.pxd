cimport cython

# Cython declarations for evlab/feeds/adapters/kraken.py (pure-Python mode): the checksum's
# text written in C. Interpreted Python never reads this file.

cdef double _EXACT_BELOW

@cython.locals(data=cython.p_char, pscale=double, qscale=double, at=Py_ssize_t, i=Py_ssize_t,
               which=int, v=double, scaled=double, u=cython.ulonglong,
               t=cython.ulonglong, k=Py_ssize_t, j=Py_ssize_t)
cdef bytes _checksum_text(list levels, int price_decimals, int qty_decimals, bytearray buf)
