cimport cython
from cpython cimport array

# Cython declarations for evlab/books/book.py (pure-Python mode): OrderBook as an extension
# type, so its state is C struct fields (no attribute lookups in apply, which every book
# update goes through); _Side too, its blocks cpython.array objects whose doubles the
# primitives (_at, _put, _insert, _delete) read and move as C memory, its searches C loops
# and its methods C calls from apply. ``public``/``readonly``: OrderBooks and the tests read
# them. Interpreted Python never reads this file.

cdef Py_ssize_t _SPLIT, _MERGE, _STEP
cdef array.array _EMPTY

cdef double _at(array.array block, Py_ssize_t i) noexcept
cdef void _put(array.array block, Py_ssize_t i, double x) noexcept
@cython.locals(n=Py_ssize_t, d=cython.p_double)
cdef int _insert(array.array block, Py_ssize_t j, double key, double size) except -1
@cython.locals(n=Py_ssize_t, d=cython.p_double)
cdef int _delete(array.array block, Py_ssize_t j) except -1

@cython.locals(lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t)
cdef Py_ssize_t _bisect(array.array block, double key) noexcept

@cython.final
cdef class _Side:
    cdef readonly list _blocks
    cdef Py_ssize_t _len
    cdef readonly double sign

    @cython.locals(blocks=list, block=array.array)
    cpdef object best(self)
    @cython.locals(blocks=list, block=array.array)
    cpdef object best_size(self)
    @cython.locals(blocks=list, block=array.array, lo=Py_ssize_t, hi=Py_ssize_t,
                   mid=Py_ssize_t)
    cdef Py_ssize_t _block_of(self, double key) except -1
    @cython.locals(key=double, blocks=list, block=array.array, j=Py_ssize_t)
    cpdef object get(self, double price)
    @cython.locals(key=double, blocks=list, block=array.array, i=Py_ssize_t, j=Py_ssize_t,
                   n=Py_ssize_t, half=Py_ssize_t)
    cpdef bint set(self, double price, double size) except -1
    @cython.locals(key=double, blocks=list, block=array.array, i=Py_ssize_t, j=Py_ssize_t)
    cpdef bint delete(self, double price) except -1
    @cython.locals(blocks=list, block=array.array, prev=array.array, n=Py_ssize_t,
                   half=Py_ssize_t)
    cdef _merge(self, Py_ssize_t i)
    @cython.locals(m=Py_ssize_t, out=list, pairs=array.array, t=Py_ssize_t)
    cpdef list levels(self, Py_ssize_t n)
    # the best n levels as C doubles: what levels() makes tuples of, and Kraken's checksum reads
    @cython.locals(m=Py_ssize_t, blocks=list, block=array.array, sign=double, i=Py_ssize_t,
                   k=Py_ssize_t, t=Py_ssize_t)
    cdef Py_ssize_t _top(self, Py_ssize_t n, double* out) except -1
    @cython.locals(blocks=list, block=array.array, left=Py_ssize_t, m=Py_ssize_t)
    cpdef drop_worst(self, Py_ssize_t n)
    @cython.locals(n=Py_ssize_t, sign=double, pairs=array.array, order=int, last=double,
                   k=Py_ssize_t, key=double, p=double, q=double)
    cpdef fill(self, levels)
    @cython.locals(side=dict, sign=double, keyed=list, pairs=array.array)
    cdef _sort(self, levels)
    @cython.locals(step=Py_ssize_t, blocks=list, block=array.array, start=Py_ssize_t,
                   m=Py_ssize_t, src=Py_ssize_t, t=Py_ssize_t)
    cdef _take(self, array.array pairs, Py_ssize_t n, bint backwards)

@cython.locals(blocks=list, block=array.array, held=bint, key=double, size0=double,
               n=Py_ssize_t)
cdef bint _apply_side(_Side side, levels) except -1

cdef class OrderBook:
    cdef public _Side _bids, _asks
    cdef public object _best_bid, _best_ask
    cdef public object symbol, update_id, time_ns
    cdef public bint stale, synced, crossed
    cdef public Py_ssize_t updates

    @cython.locals(moved=bint)
    cpdef bint apply(self, bids, asks) except -1

    cpdef replace(self, bids, asks)
    @cython.locals(extra=Py_ssize_t)
    cpdef truncate(self, Py_ssize_t depth)
