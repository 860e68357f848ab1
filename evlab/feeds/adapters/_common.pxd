cimport cython

# Cython declarations for evlab/feeds/adapters/_common.py (pure-Python mode): the per-level
# path of every venue's book decoding and the RFC 3339 times in C (calls between these
# functions skip Python's calling convention, and so do an adapter's that cimports them, as
# coinbase's l2update path does). Interpreted Python never reads this file.

cdef double _LIMIT  # MAX_VALUE, for the per-level checks
cdef double _INF

cpdef double _plain_decimal(str text) except? -2.0

# the scan of a decimal in place: _plain_decimal's, and the depth scans'
cdef double _TEN_POW[23]
# (compile-time constants, the .py's values: the C compiler folds them into _decimal_at's
# masks and multiplications)
cdef extern from *:
    """
    #define EVLAB_ONES 0x0101010101010101ULL
    #define EVLAB_LOW_BYTES 0x000000FF000000FFULL
    #define EVLAB_MUL_HIGH (100ULL + (1000000ULL << 32))
    #define EVLAB_MUL_LOW (1ULL + (10000ULL << 32))
    #define EVLAB_LOW_HALF 0xFFFFFFFFULL
    #define EVLAB_EXACT (1ULL << 53)
    """
    const bint _LITTLE "PY_LITTLE_ENDIAN"
    const unsigned long long _ONES "EVLAB_ONES"
    const unsigned long long _LOW_BYTES "EVLAB_LOW_BYTES"
    const unsigned long long _MUL_HIGH "EVLAB_MUL_HIGH"
    const unsigned long long _MUL_LOW "EVLAB_MUL_LOW"
    const unsigned long long _LOW_HALF "EVLAB_LOW_HALF"
    const unsigned long long _EXACT "EVLAB_EXACT"
@cython.locals(n=Py_ssize_t, value=double, stop=Py_ssize_t)
cdef double _decimal_in(str text, Py_ssize_t start, Py_ssize_t end) except? -2.0
@cython.locals(start=Py_ssize_t, lim=Py_ssize_t, point=Py_ssize_t, frac=Py_ssize_t,
               digits=Py_ssize_t, mantissa=cython.ulonglong, word=cython.ulonglong,
               high=cython.ulonglong,
               d=cython.uint)
cdef (double, Py_ssize_t) _decimal_at(str text, const unsigned char* data, Py_ssize_t i,
                                      Py_ssize_t n) noexcept  # (no check after each call)

# a Binance depth snapshot body in one pass: C loops over its characters
@cython.locals(n=Py_ssize_t, i=Py_ssize_t, start=Py_ssize_t, end=Py_ssize_t, top=double)
cpdef tuple _depth_scan(str text)

# str or ASCII bytes as the str the scans read, else None
cdef str _ascii_text(payload)

# a Binance depthUpdate message in one pass, as the snapshot body
cpdef tuple depth_update_levels(payload)

@cython.locals(i=Py_ssize_t, close=Py_ssize_t, end=Py_ssize_t)
cpdef tuple _update_scan(str text)

# a Binance bookTicker message in one pass, as the depthUpdate
cpdef tuple book_ticker_fields(payload)

@cython.locals(n=Py_ssize_t, i=Py_ssize_t, close=Py_ssize_t, end=Py_ssize_t, bid=double,
               bid_size=double, ask=double, ask_size=double, data=cython.p_uchar)
cpdef tuple _ticker_scan(str text)

# where a bare or combined-stream Binance message's object starts and must end (both scans)
@cython.locals(n=Py_ssize_t, i=Py_ssize_t)
cdef (Py_ssize_t, Py_ssize_t) _envelope(str text)

# (the three read an ASCII text's characters as bytes in place)
@cython.locals(n=Py_ssize_t, end=Py_ssize_t, data=cython.p_uchar)
cdef Py_ssize_t _digits_end(str text, Py_ssize_t i) except -2

@cython.locals(value=cython.longlong, k=Py_ssize_t, data=cython.p_uchar)
cdef object _digits_value(str text, Py_ssize_t i, Py_ssize_t end)

@cython.locals(n=Py_ssize_t, ch=cython.uchar, data=cython.p_uchar)
cdef Py_ssize_t _string_end(str text, Py_ssize_t i) except -2

cdef extern from "Python.h":
    # a level (two floats) out of the cyclic collector's lists, as CPython's own
    # _PyTuple_MaybeUntrack does at the tuple's first collection
    void _untrack "PyObject_GC_UnTrack"(object op)

# the best price of the side _depth_side read last (its global: a C static)
cdef double _side_best

@cython.locals(n=Py_ssize_t, p=double, q=double, ch=cython.uchar, data=cython.p_uchar,
               level=tuple, best=double)
cdef Py_ssize_t _depth_side(str text, Py_ssize_t i, list out, bint bid) except -2

# dec_fields' values: a C loop calling _plain_decimal in C
@cython.locals(x=double)
cpdef tuple _decimals(tuple values)

@cython.locals(p=double, q=double)
# (level's .py annotation of ``fields`` is a bare ``tuple``: Cython reads ``tuple[str, str]``
# as a C tuple, which this declaration would not match)
cpdef tuple level(str name, obj, str key, price, size, tuple fields=*, bint numbers=*,
                  str side=*)

# rfc3339_ns's caches and scales: C statics (its writes are no module dict writes)
cdef tuple _SCALE, _LAST_SECOND, _LAST_HOUR

@cython.locals(scale=cython.longlong)
cdef object _epoch_ns(long long secs, long long frac, Py_ssize_t digits)

@cython.locals(n=Py_ssize_t, digits=Py_ssize_t, i=Py_ssize_t, frac=cython.longlong, ch=Py_UCS4,
               last=tuple, hour=tuple, m1=Py_UCS4, m2=Py_UCS4, s1=Py_UCS4, s2=Py_UCS4,
               second=cython.longlong)
cpdef rfc3339_ns(str text)

cpdef str get_str(str name, obj, str key)

cpdef loads(str name, payload)

cpdef get_time(str name, obj, str key)

# a candle's start and the lists of its message: C calls from coinbase's candles path
@cython.locals(text=str, secs=cython.longlong, ch=Py_UCS4)
cpdef get_time_s_str(str name, obj, str key)

# a Coinbase candles message in one pass, as the Binance scans: C calls from coinbase's parse
cpdef tuple candles_levels(payload)

@cython.locals(k=Py_ssize_t)
cdef bint _ascii_at(str text, Py_ssize_t i, str lit) except -1

@cython.locals(n=Py_ssize_t, i=Py_ssize_t, end=Py_ssize_t, begin=Py_ssize_t, k=Py_ssize_t,
               secs=cython.longlong, x=double, ch=cython.uchar, data=cython.p_uchar)
cpdef tuple _candles_scan(str text)

cpdef get_list(str name, obj, str key)

# (side_levels' .py annotation of ``sides`` is a bare ``tuple``, as level's ``fields``)
cpdef tuple side_levels(str name, obj, str key, tuple sides)

# the bar of a message (BarCloser.push's, binance's kline path): a C call from push; its
# arguments' C types are what the .py's annotations made of them as a def
cpdef bar(str name, bint final, str symbol, time_ns, double o, double h, double low, double c,
          double v, str source, raw)

# (annotation_typing(False) in the .py: its arguments are objects, checked by the event)
cpdef book(name, symbol, time_ns, bids, asks, snapshot, first_id, last_id, source, raw,
           checksum=*, checksum_rule=*, uncrossed=*)

# binance's depthUpdate and bookTicker paths: C calls from its compiled module
cpdef get_int(str name, obj, str key)

cpdef double get_dec(str name, obj, str key) except? -1.0

cpdef get_time_ms(str name, obj, str key)

cpdef get_time_us(str name, obj, str key)

cpdef tuple levels(str name, obj, str key)

# (annotation_typing(False) in the .py, as book's)
cpdef quote(name, symbol, time_ns, bid, ask, bid_size, ask_size, source, raw)
