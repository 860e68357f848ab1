cimport cython

from evlab.books.book cimport OrderBook

# Cython declarations for evlab/books/orderbooks.py (pure-Python mode): the per-update path
# (OrderBooks.on_book's body and _apply) as C functions with the book typed, so that its
# fields are C struct fields and its apply a C call. Interpreted Python never reads this.

@cython.locals(book=OrderBook, stats=dict, table=dict, bids=tuple, asks=tuple)
cdef object _on_book(books, event)

@cython.locals(bids=tuple, asks=tuple, moved=bint)
cdef bint _apply(dict stats, OrderBook book, event) except -1
