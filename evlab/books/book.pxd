cimport cython

# Cython declarations for evlab/books/book.py (pure-Python mode): OrderBook as an extension
# type, so its state is C struct fields (no attribute lookups in apply, which every book
# update goes through) and its dicts are typed (PyDict calls, not the generic protocol).
# ``public``: OrderBooks and the tests read and set them as before. Interpreted Python never
# reads this file.

cdef class OrderBook:
    cdef public dict _bids, _asks
    cdef public object _bid_prices, _ask_prices, _best_bid, _best_ask
    cdef public object symbol, update_id, time_ns
    cdef public bint stale, synced, crossed
    cdef public Py_ssize_t updates

    @cython.locals(side=dict, top=object, best=object, moved=bint)
    cpdef bint apply(self, bids, asks) except -1
