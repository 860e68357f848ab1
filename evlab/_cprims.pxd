# C primitives of evlab/_core.py when it is compiled (see the interpreted twins there).
# Each is a few lines that pure Python cannot express at C speed: a thread-local pointer,
# a slot written at its offset, a coroutine stepped without raising StopIteration.

cdef extern from *:
    """
    #include <structmember.h>
    #include <time.h>

    /* The event whose handlers run now on this thread (a strong reference, or NULL). */
    static __thread PyObject *evlab_current __attribute__((tls_model("initial-exec"))) = NULL;

    static inline PyObject *evlab_get_current(void) {
        return Py_NewRef(evlab_current ? evlab_current : Py_None);
    }

    static inline void evlab_set_current(PyObject *event) {
        PyObject *old = evlab_current;
        evlab_current = (event == Py_None) ? NULL : Py_NewRef(event);
        Py_XDECREF(old);
    }

    /* The offset of a slot from its member descriptor (-1 and an error if it is not one). */
    static Py_ssize_t evlab_slot_offset(PyObject *descr) {
        if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyErr_SetString(PyExc_TypeError, "evlab: not a slot descriptor");
            return -1;
        }
        return ((PyMemberDescrObject *)descr)->d_member->offset;
    }

    static inline void evlab_put(Py_ssize_t offset, PyObject *obj, PyObject *value) {
        PyObject **slot = (PyObject **)((char *)obj + offset);
        PyObject *old = *slot;
        *slot = Py_NewRef(value);
        Py_XDECREF(old);
    }

    static inline PyObject *evlab_peek(Py_ssize_t offset, PyObject *obj) {
        PyObject *value = *(PyObject **)((char *)obj + offset);
        return Py_NewRef(value ? value : Py_None);
    }

    /* The routing key of an event: its class's `type` (borrowed), or NULL. */
    static PyObject *evlab_str_type = NULL;
    static inline PyObject *evlab_type_of(PyObject *event) {
        if (evlab_str_type == NULL) evlab_str_type = PyUnicode_InternFromString("type");
        PyObject *t = _PyType_Lookup(Py_TYPE(event), evlab_str_type);
        return Py_NewRef(t ? t : Py_None);
    }

    static inline int evlab_is(PyObject *obj, PyObject *cls) {
        return PyObject_TypeCheck(obj, (PyTypeObject *)cls);
    }

    static inline PyObject *evlab_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return PyLong_FromLongLong((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    }

    /* A copy of `obj` without __init__: the slots at the offsets packed in `copied` (a bytes
     * of Py_ssize_t) taken from it, those in `cleared` set to None. */
    static PyObject *evlab_clone(PyObject *obj, PyObject *copied, PyObject *cleared) {
        PyTypeObject *tp = Py_TYPE(obj);
        PyObject *new = tp->tp_alloc(tp, 0);
        if (new == NULL) return NULL;
        const Py_ssize_t *off = (const Py_ssize_t *)PyBytes_AS_STRING(copied);
        Py_ssize_t n = PyBytes_GET_SIZE(copied) / (Py_ssize_t)sizeof(Py_ssize_t);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *v = *(PyObject **)((char *)obj + off[i]);
            *(PyObject **)((char *)new + off[i]) = Py_XNewRef(v);
        }
        off = (const Py_ssize_t *)PyBytes_AS_STRING(cleared);
        n = PyBytes_GET_SIZE(cleared) / (Py_ssize_t)sizeof(Py_ssize_t);
        for (Py_ssize_t i = 0; i < n; i++)
            *(PyObject **)((char *)new + off[i]) = Py_NewRef(Py_None);
        return new;
    }

    /* Write the items of tuple `values` into the slots at the offsets packed in `plan`;
     * the slots of the plan beyond the values are set to None. */
    static int evlab_fill(PyObject *obj, PyObject *plan, PyObject *values) {
        const Py_ssize_t *off = (const Py_ssize_t *)PyBytes_AS_STRING(plan);
        Py_ssize_t n = PyBytes_GET_SIZE(plan) / (Py_ssize_t)sizeof(Py_ssize_t);
        Py_ssize_t k = PyTuple_GET_SIZE(values);
        if (k > n) {
            PyErr_Format(PyExc_TypeError, "evlab: %zd values for %zd slots", k, n);
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject **slot = (PyObject **)((char *)obj + off[i]);
            PyObject *old = *slot;
            *slot = Py_NewRef(i < k ? PyTuple_GET_ITEM(values, i) : Py_None);
            Py_XDECREF(old);
        }
        return 0;
    }

    /* A new `cls` instance, without __init__, its slots filled as by evlab_fill. */
    static PyObject *evlab_make(PyObject *cls, PyObject *plan, PyObject *values) {
        PyTypeObject *tp = (PyTypeObject *)cls;
        PyObject *new = tp->tp_alloc(tp, 0);
        if (new == NULL) return NULL;
        if (evlab_fill(new, plan, values) < 0) { Py_DECREF(new); return NULL; }
        return new;
    }

    /* The usual bar, checked in one go: open/high/low/close exact floats with
     * 0 < low <= open, close <= high < inf, and volume a finite float or int >= 0.
     * False sends the caller to the checks that explain what is wrong. */
    static int evlab_bar_ok(PyObject *o, PyObject *h, PyObject *l, PyObject *c,
                            PyObject *v) {
        if (!PyFloat_CheckExact(o) || !PyFloat_CheckExact(h) || !PyFloat_CheckExact(l)
                || !PyFloat_CheckExact(c))
            return 0;
        double fo = PyFloat_AS_DOUBLE(o), fh = PyFloat_AS_DOUBLE(h);
        double fl = PyFloat_AS_DOUBLE(l), fc = PyFloat_AS_DOUBLE(c), fv;
        if (PyFloat_CheckExact(v)) fv = PyFloat_AS_DOUBLE(v);
        else if (PyLong_CheckExact(v)) {  /* any int is finite: only its sign matters */
            fv = PyLong_AsDouble(v);
            if (fv == -1.0 && PyErr_Occurred()) {  /* too large for a double */
                PyErr_Clear();
                PyObject *zero = PyLong_FromLong(0);
                int positive = PyObject_RichCompareBool(v, zero, Py_GE);
                Py_DECREF(zero);
                if (positive < 0) { PyErr_Clear(); return 0; }
                fv = positive ? 0.0 : -1.0;
            }
        }
        else return 0;
        return 0.0 < fl && fl <= fo && fo <= fh && fh < Py_HUGE_VAL && fl <= fc && fc <= fh
            && 0.0 <= fv && fv < Py_HUGE_VAL;
    }

    /* One step of a coroutine: what it yielded, or `done` once it returned. */
    static PyObject *evlab_send(PyObject *coro, PyObject *arg, PyObject *done) {
        PyObject *result = NULL;
        PySendResult rc = PyIter_Send(coro, arg, &result);
        if (rc == PYGEN_RETURN) {
            Py_XDECREF(result);
            return Py_NewRef(done);
        }
        return result;  /* PYGEN_NEXT: the yielded value; PYGEN_ERROR: NULL, error set */
    }
    """
    object evlab_get_current()
    void evlab_set_current(object event)
    Py_ssize_t evlab_slot_offset(object descr) except -1
    void evlab_put(Py_ssize_t offset, object obj, object value)
    object evlab_peek(Py_ssize_t offset, object obj)
    object evlab_send(object coro, object arg, object done)
    bint evlab_is(object obj, object cls)
    bint evlab_bar_ok(object o, object h, object l, object c, object v)
    object evlab_type_of(object event)
    object evlab_now()
    object evlab_clone(object obj, bytes copied, bytes cleared)
    int evlab_fill(object obj, bytes plan, tuple values) except -1
    object evlab_make(object cls, bytes plan, tuple values)


# --- The tape: one recorded row read from an event's slots (see "The tape" in _core.py) ---

cdef extern from *:
    """
    /* One row of the recorder's table for `event`, by `plan` (made by _core.row_plan):
     * (offsets: bytes of Py_ssize_t, kinds: bytes, targets: tuple of lists, aux: tuple,
     *  float64: numpy's float64 type, none_code: the int -1, stages: bytes of 4 Py_ssize_t
     *  per column, see below; memo: a list of 2 per column, the last string looked up by
     *  an 'S', 'Y' or 'G' column and its code, or the last value a 'J' column encoded and
     *  its text if that value cannot change: see evlab_frozen). Column i reads the slot at
     *  offsets[i] (an unset slot reads as None) and appends to targets[i]:
     *   'A' the value as is                  'C' -1 for None, else the value (a cause)
     *   'K' aux[i] (a constant: the class)   'K' reads no slot
     *   'S' aux[i][value] for an exact str   'Y' the same, -1 for None (the symbol)
     *   'G' the same, None for None (a category field)
     *   'F' an exact float, int or float64, aux[i] (NaN) for None
     *   'N' None or an exact int within int64  'T' None or an exact str
     *   'B' None or an exact bool
     *   'J' None for None, else aux[i](value) (the column's JSON text)
     * A target that is a typed stage (_core.Stage) is written in place instead: stages[i]
     * holds the addresses of its data pointer, its count and its capacity, and its type
     * code (0 for a list), and the value is converted as `evlab_number` says.
     * Every column is looked at first: 0 if any value needs the checked path (nothing
     * appended: the generated `put` then does that row; also when a stage is full, its
     * `append` grows it), 1 once the row is appended, -1 with an exception set if an append
     * failed. */
    #define EVLAB_ROW_MAX 64
    typedef union { double d; long long q; } evlab_num;
    /* `v` as a number of type `code` ('d' float64, 'q' int64, 'i' int32, 'h' int16): 1, or 0
     * (no exception set) unless it is a float (subclasses too) or int for 'd', an exact int
     * within range for the others: what a stage takes without a Python call. */
    static inline int evlab_number(PyObject *v, int code, evlab_num *out) {
        if (code == 'd') {
            if (PyFloat_Check(v)) { out->d = PyFloat_AS_DOUBLE(v); return 1; }
            if (!PyLong_CheckExact(v)) return 0;
            out->d = PyLong_AsDouble(v);
            if (out->d == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
            return 1;
        }
        if (!PyLong_CheckExact(v)) return 0;
        long long x;
    #if PY_VERSION_HEX < 0x030C0000 && PyLong_SHIFT == 30
        /* CPython 3.11's digits read in place: a stamp in ns is 3 digits (61 bits) */
        const digit *d = ((PyLongObject *)v)->ob_digit;
        Py_ssize_t size = Py_SIZE(v);
        Py_ssize_t len = size < 0 ? -size : size;
        if (len <= 3 && (len < 3 || d[2] < 8)) {
            unsigned long long u = 0;
            switch (len) {
            case 3: u = (unsigned long long)d[2] << 60;  /* fall through */
            case 2: u |= (unsigned long long)d[1] << 30;  /* fall through */
            case 1: u |= d[0];  /* fall through */
            default: break;
            }
            x = size < 0 ? -(long long)u : (long long)u;
        } else
    #endif
        {
            int overflow = 0;
            x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow) return 0;
        }
        if (code == 'i' && (x < INT32_MIN || x > INT32_MAX)) return 0;
        if (code == 'h' && (x < INT16_MIN || x > INT16_MAX)) return 0;
        out->q = x;
        return 1;
    }
    /* 1 if `v` can never change: None, an exact str, float, int or bool, or an exact tuple
     * of those or of such tuples (a few levels deep), e.g. a portfolio's positions. */
    static int evlab_frozen(PyObject *v, int depth) {
        if (v == Py_None || PyUnicode_CheckExact(v) || PyFloat_CheckExact(v)
                || PyLong_CheckExact(v) || PyBool_Check(v)) return 1;
        if (!PyTuple_CheckExact(v) || depth >= 4) return 0;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(v); k++)
            if (!evlab_frozen(PyTuple_GET_ITEM(v, k), depth + 1)) return 0;
        return 1;
    }
    /* Item i of a stage's buffer `data` (type `code`) set to `x`. */
    static inline void evlab_store(char *data, int code, Py_ssize_t i, evlab_num x) {
        switch (code) {
        case 'd': ((double *)data)[i] = x.d; break;
        case 'q': ((long long *)data)[i] = x.q; break;
        case 'i': ((int32_t *)data)[i] = (int32_t)x.q; break;
        default: ((int16_t *)data)[i] = (int16_t)x.q; break;
        }
    }
    static int evlab_row_columns(PyObject *plan, PyObject *event, PyObject **vals,
                                 PyObject **owned, Py_ssize_t *nowned);
    static int evlab_row(PyObject *plan, PyObject *event) {
        PyObject *vals[EVLAB_ROW_MAX], *owned[EVLAB_ROW_MAX];
        Py_ssize_t nowned = 0;
        int rc = evlab_row_columns(plan, event, vals, owned, &nowned);
        for (Py_ssize_t i = 0; i < nowned; i++) Py_DECREF(owned[i]);
        return rc;
    }
    /* evlab_row's work; every value it takes (and the texts it makes, kind J) is held in
     * `owned`, released by the caller. */
    static int evlab_row_columns(PyObject *plan, PyObject *event, PyObject **vals,
                                 PyObject **owned, Py_ssize_t *nowned) {
        PyObject *offsets = PyTuple_GET_ITEM(plan, 0), *kinds = PyTuple_GET_ITEM(plan, 1);
        PyObject *targets = PyTuple_GET_ITEM(plan, 2), *aux = PyTuple_GET_ITEM(plan, 3);
        PyObject *f64 = PyTuple_GET_ITEM(plan, 4), *none_code = PyTuple_GET_ITEM(plan, 5);
        const Py_ssize_t *stage = (const Py_ssize_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(plan, 6));
        PyObject *memo = PyTuple_GET_ITEM(plan, 7);
        evlab_num nums[EVLAB_ROW_MAX];
        const Py_ssize_t *off = (const Py_ssize_t *)PyBytes_AS_STRING(offsets);
        const char *kind = PyBytes_AS_STRING(kinds);
        Py_ssize_t n = PyBytes_GET_SIZE(kinds);
        if (n > EVLAB_ROW_MAX) return 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *v = NULL, *out;
            if (kind[i] != 'K') {
                v = *(PyObject **)((char *)event + off[i]);
                if (v == NULL) v = Py_None;
            }
            switch (kind[i]) {
            case 'A': out = v; break;
            case 'C': out = (v == Py_None) ? none_code : v; break;
            case 'K': out = PyTuple_GET_ITEM(aux, i); break;
            case 'S': case 'Y': case 'G':
                if (v == Py_None) {
                    if (kind[i] == 'S') return 0;
                    out = (kind[i] == 'Y') ? none_code : Py_None;
                } else {
                    if (PyList_GET_ITEM(memo, 2 * i) == v) {  /* the string of the last row */
                        out = PyList_GET_ITEM(memo, 2 * i + 1);
                        break;
                    }
                    if (!PyUnicode_CheckExact(v)) return 0;
                    out = PyDict_GetItemWithError(PyTuple_GET_ITEM(aux, i), v);
                    if (out == NULL) {
                        if (PyErr_Occurred()) return -1;
                        return 0;  /* a new string: the checked path adds it */
                    }
                    /* held, so no other object can come at its address while remembered */
                    PyList_SetItem(memo, 2 * i, Py_NewRef(v));
                    PyList_SetItem(memo, 2 * i + 1, Py_NewRef(out));
                }
                break;
            case 'F':
                if (PyFloat_CheckExact(v) || PyLong_CheckExact(v)
                        || Py_TYPE(v) == (PyTypeObject *)f64) out = v;
                else if (v == Py_None) out = PyTuple_GET_ITEM(aux, i);
                else return 0;
                break;
            case 'N':
                if (v != Py_None) {
                    int overflow = 0;
                    if (!PyLong_CheckExact(v)) return 0;
                    (void)PyLong_AsLongLongAndOverflow(v, &overflow);
                    if (overflow) return 0;
                }
                out = v;
                break;
            case 'T':
                if (v != Py_None && !PyUnicode_CheckExact(v)) return 0;
                out = v;
                break;
            case 'B':
                if (v != Py_None && !PyBool_Check(v)) return 0;
                out = v;
                break;
            case 'J':
                if (v == Py_None) out = Py_None;
                else if (PyList_GET_ITEM(memo, 2 * i) == v) {  /* the value of the last row */
                    out = PyList_GET_ITEM(memo, 2 * i + 1);
                } else {
                    /* Python code runs here: every value is held (owned) until appended */
                    out = PyObject_CallOneArg(PyTuple_GET_ITEM(aux, i), v);
                    if (out == NULL) { PyErr_Clear(); return 0; }  /* put says why */
                    owned[(*nowned)++] = out;
                    vals[i] = out;
                    if (evlab_frozen(v, 0)) {  /* its text cannot change: remembered */
                        PyList_SetItem(memo, 2 * i, Py_NewRef(v));
                        PyList_SetItem(memo, 2 * i + 1, Py_NewRef(out));
                    }
                    continue;
                }
                break;
            default:
                return 0;
            }
            if (stage[4 * i + 3]) {  /* a typed stage: converted now, written below */
                if (!evlab_number(out, (int)stage[4 * i + 3], &nums[i])) return 0;
                if (*(Py_ssize_t *)stage[4 * i + 1] >= *(Py_ssize_t *)stage[4 * i + 2])
                    return 0;  /* full: its append grows it */
                continue;
            }
            Py_INCREF(out);
            owned[(*nowned)++] = out;
            vals[i] = out;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (stage[4 * i + 3]) {
                Py_ssize_t *count = (Py_ssize_t *)stage[4 * i + 1];
                evlab_store(*(char **)stage[4 * i], (int)stage[4 * i + 3], (*count)++, nums[i]);
            } else if (PyList_Append(PyTuple_GET_ITEM(targets, i), vals[i]) < 0) return -1;
        }
        return 1;
    }
    """
    int evlab_row(tuple plan, object event) except -1


cdef extern from *:
    """
    /* Item i of `stage_buf` (a stage's bytearray, room checked by the caller) set to `value`
     * as type `code` (see evlab_number): 0, or -1 with TypeError (not a number of that kind:
     * 'd' takes floats and ints, the others ints and what has __index__, e.g. numpy's) or
     * OverflowError (out of range). */
    static int evlab_stage_put(PyObject *stage_buf, int code, Py_ssize_t i, PyObject *value) {
        evlab_num x;
        if (!evlab_number(value, code, &x)) {
            if (code == 'd') {
                if (!PyLong_Check(value)) {
                    PyErr_Format(PyExc_TypeError, "expected a float, got %.200s",
                                 Py_TYPE(value)->tp_name);
                    return -1;
                }
                x.d = PyLong_AsDouble(value);
                if (x.d == -1.0 && PyErr_Occurred()) return -1;
            } else {
                int overflow = 0;
                PyObject *index = PyNumber_Index(value);
                if (index == NULL) return -1;
                x.q = PyLong_AsLongLongAndOverflow(index, &overflow);
                Py_DECREF(index);
                if (x.q == -1 && PyErr_Occurred()) return -1;
                if (overflow || (code == 'i' && (x.q < INT32_MIN || x.q > INT32_MAX))
                        || (code == 'h' && (x.q < INT16_MIN || x.q > INT16_MAX))) {
                    PyErr_Format(PyExc_OverflowError, "%R does not fit in %s", value,
                                 code == 'q' ? "int64" : code == 'i' ? "int32" : "int16");
                    return -1;
                }
            }
        }
        evlab_store(PyByteArray_AS_STRING(stage_buf), code, i, x);
        return 0;
    }

    /* Where a bytearray's bytes are (valid until it is resized: a stage never resizes its). */
    static inline Py_ssize_t evlab_address(PyObject *buf) {
        return (Py_ssize_t)PyByteArray_AS_STRING(buf);
    }
    """
    int evlab_stage_put(bytearray stage_buf, int code, Py_ssize_t i, object value) except -1
    Py_ssize_t evlab_address(bytearray buf)
