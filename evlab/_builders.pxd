# Cython declarations for evlab/_builders.py (pure-Python mode): the builders as extension
# types, so their state is C struct fields (no attribute lookups per event). Interpreted
# Python never reads this file.

cdef class BookBuilder:
    cdef readonly object cls, plan, make, event_time, check

cdef class QuoteBuilder:
    cdef readonly object cls, plan, make, event_time

cdef class BarBuilder:
    cdef readonly object final, plan, update, update_plan, make, bar_ok, slow
