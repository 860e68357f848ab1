# Cython declarations for evlab/_builders.py (pure-Python mode): the builders as extension
# types, so their state is C struct fields (no attribute lookups per event). Interpreted
# Python never reads this file.

cimport cython

cdef double _INF

# a snapshot's crossing check in one C loop a side (BookBuilder.build's usual snapshot)
@cython.locals(level=object, lv=tuple, price=object, size=object, p=double, q=double,
               top=double, low=double)
cdef bint _uncrossed(tuple bids, tuple asks) except -1

cdef class BookBuilder:
    cdef readonly object cls, plan, make, event_time, check

cdef class QuoteBuilder:
    cdef readonly object cls, plan, make, event_time

    cpdef build(self, symbol, bid, ask, bid_size, ask_size, time_ns, source)
    @cython.locals(b=double, a=double, x=double, y=double, sized=bint)
    cpdef checked(self, symbol, bid, ask, bid_size, ask_size, time_ns, source)

cdef class BarBuilder:
    cdef readonly object final, plan, update, update_plan, make, bar_ok, slow

cdef class WebSocketBuilder:
    cdef readonly object cls, plan, make, slow
