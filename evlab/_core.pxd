cimport cython

# Cython declarations for evlab/_core.py (pure-Python mode): with them the same source
# compiles to a C extension where a compiler exists. Interpreted Python never reads this.

cdef class Dispatcher:
    cdef public dict _routes
    cdef public tuple _default_route
    cdef object _seqs
    cdef object _event_cls
    cdef object _error_cls
    cdef Py_ssize_t _o_seq, _o_emit, _o_cause, _o_bus, _o_depth
    cdef readonly Py_ssize_t max_depth
    # the tape (see "The tape" in _core.py)
    cdef public list _tape
    cdef public Py_ssize_t _tape_limit
    cdef public object _tape_full

    @cython.locals(depth=Py_ssize_t, refused=bint)
    cdef object _begin(self, object event, object cause, object current)
    cdef object _refuse(self, object event)
    cdef int _dispatch(self, tuple handlers, tuple asyncs, object event, object outer) except -1
    cdef object _start(self, object handler, object event)

cdef class WeakCall:
    cdef readonly object ref
    cdef readonly object func
    cdef readonly str name

cdef class Stage:
    cdef Py_ssize_t addr  # where buf's bytes are (compiled: evlab_row writes there)
    cdef readonly bytearray buf
    cdef readonly Py_ssize_t capacity
    cdef readonly str code
    cdef readonly int kind
    cdef public Py_ssize_t n
    cdef readonly Py_ssize_t size
