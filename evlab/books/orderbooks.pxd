cimport cython

from evlab.books.book cimport OrderBook

# Cython declarations for evlab/books/orderbooks.py (pure-Python mode): the per-update path
# (OrderBooks.on_book's body and _apply) as C functions with the book typed, so that its
# fields are C struct fields and its apply a C call; the counters of every update (_Counts)
# C fields too. Interpreted Python never reads this.

@cython.final
cdef class _Counts:
    cdef public Py_ssize_t events, updates, levels, quotes

@cython.locals(book=OrderBook, counts=_Counts, table=dict, bids=tuple, asks=tuple)
cdef object _on_book(books, event)

@cython.locals(bids=tuple, asks=tuple, moved=bint)
cdef bint _apply(_Counts counts, OrderBook book, event) except -1
