cimport cython

from evlab.books.book cimport OrderBook

# Cython declarations for evlab/feeds/adapters/kraken.py (pure-Python mode): the checksum's
# text written in C. Interpreted Python never reads this file.

cdef double _EXACT_BELOW

@cython.locals(data=cython.p_char, pscale=double, qscale=double, at=Py_ssize_t, i=Py_ssize_t,
               n=Py_ssize_t, scaled=double, u=cython.ulonglong, t=cython.ulonglong,
               k=Py_ssize_t, j=Py_ssize_t)
cdef bytes _checksum_text(OrderBook book, int price_decimals, int qty_decimals, bytearray buf)

# a book update in one pass over its text (book_update_levels): C loops over its characters
cdef double _LIMIT

cpdef tuple book_update_levels(payload)

@cython.locals(n=Py_ssize_t, i=Py_ssize_t, end=Py_ssize_t)
cpdef tuple _update_scan(str text)

@cython.locals(n=Py_ssize_t, p=double, q=double, end=Py_ssize_t, ch=cython.uchar,
               data=cython.p_uchar)
cdef Py_ssize_t _levels_side(str text, Py_ssize_t i, list out) except -2

@cython.locals(n=Py_ssize_t, end=Py_ssize_t, data=cython.p_uchar)
cdef Py_ssize_t _number_end(str text, Py_ssize_t i) except -2
