cimport cython

# Cython declarations for evlab/books/book.py (pure-Python mode): OrderBook as an extension
# type, so its state is C struct fields (no attribute lookups in apply, which every book
# update goes through) and its dicts are typed (PyDict calls, not the generic protocol);
# _Prices too, its searches C loops over the prices as doubles and its methods C calls from
# apply. ``public``: OrderBooks and the tests read and set them as before. Interpreted Python
# never reads this file.

cdef extern from "Python.h":
    # a dict with room for minused keys: no resize while a snapshot's side fills it
    dict _presized "_PyDict_NewPresized"(Py_ssize_t minused)

@cython.locals(lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t, v=double)
cdef Py_ssize_t _bisect(list block, double x) except -1

@cython.final
cdef class _Prices:
    cdef readonly list _blocks
    cdef Py_ssize_t _len

    @cython.locals(blocks=list, block=list)
    cpdef object first(self)
    @cython.locals(blocks=list, block=list)
    cpdef object last(self)
    @cython.locals(blocks=list, block=list, lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t,
                   v=double)
    cdef Py_ssize_t _block_of(self, double x) except -1
    @cython.locals(blocks=list, block=list, i=Py_ssize_t, n=Py_ssize_t, half=Py_ssize_t)
    cpdef add(self, price)
    @cython.locals(blocks=list, block=list, i=Py_ssize_t, j=Py_ssize_t, v=double)
    cpdef remove(self, price)
    @cython.locals(blocks=list, block=list, prev=list, n=Py_ssize_t, half=Py_ssize_t)
    cdef _merge(self, Py_ssize_t i)
    # the best n prices of a side: C calls from OrderBook.bids/asks (every Kraken checksum
    # reads both)
    @cython.locals(out=list, block=list, want=Py_ssize_t)
    cpdef list lowest(self, Py_ssize_t n)
    @cython.locals(out=list, blocks=list, block=list, i=Py_ssize_t, k=Py_ssize_t)
    cpdef list highest(self, Py_ssize_t n)
    @cython.locals(step=Py_ssize_t, n=Py_ssize_t, k=Py_ssize_t)
    cpdef take(self, list ordered)
    cpdef reset(self, prices)

cdef class OrderBook:
    cdef public dict _bids, _asks
    cdef public _Prices _bid_prices, _ask_prices
    cdef public object _best_bid, _best_ask
    cdef public object symbol, update_id, time_ns
    cdef public bint stale, synced, crossed
    cdef public Py_ssize_t updates

    @cython.locals(side=dict, prices=_Prices, top=object, best=object, moved=bint,
                   held=Py_ssize_t)
    cpdef bint apply(self, bids, asks) except -1

    cpdef replace(self, bids, asks)

@cython.locals(side=dict, ordered=list, order=int, last=double, p=double, q=double, keep=bint)
cdef dict _fill(_Prices prices, levels)
