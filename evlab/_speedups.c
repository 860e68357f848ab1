/* evlab._speedups: EventBus.emit in C.
 *
 * The same algorithm as the pure-Python EventBus.emit in evlab/bus.py (which stays the
 * reference and the fallback): stamp the event (seq, emission time, cause), count it per
 * type, make it the thread's current event, call the route's sync handlers in order with
 * errors isolated, schedule the async ones, restore the previous current event.
 *
 * Everything here runs with the GIL held, so the stamps cannot interleave between threads;
 * handlers may release it, which is why the route tuple is held for the whole loop.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <time.h>

static PyObject *str_copy;
static PyObject *str_type;

/* ---- the thread's current event ---------------------------------------------------- */

/* A borrowed pointer: set only while the event is being dispatched on this thread (the
 * dispatcher holds a reference for that long), restored when its dispatch ends. */
static _Thread_local PyObject *thread_event = NULL;

static PyObject *
get_current(PyObject *module, PyObject *unused)
{
    return Py_NewRef(thread_event ? thread_event : Py_None);
}

/* ---- Dispatcher -------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyTypeObject *event_cls;
    PyObject *bus;           /* stamped on each event as the bus that delivered it */
    long long seq;           /* last sequence number given; shared with emit_async */
    PyObject *on_error;      /* callable(handler, event, exc) */
    PyObject *schedule;      /* callable(async_handlers, event) */
    PyObject *ctxvar;        /* the async paths' current event (a ContextVar) */
    PyObject *routes;        /* dict: type -> (sync tuple, async tuple, count callable) */
    PyObject *default_route;
    Py_ssize_t off_seq, off_emit, off_cause, off_bus;
} Dispatcher;

static Py_ssize_t
slot_offset(PyTypeObject *cls, const char *name)
{
    PyObject *descr = PyObject_GetAttrString((PyObject *)cls, name);
    if (descr == NULL) return -1;
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        Py_DECREF(descr);
        PyErr_Format(PyExc_TypeError, "evlab: %s is not a slot", name);
        return -1;
    }
    Py_ssize_t off = ((PyMemberDescrObject *)descr)->d_member->offset;
    Py_DECREF(descr);
    return off;
}

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

static inline void
set_slot(PyObject *obj, Py_ssize_t off, PyObject *value)  /* steals value */
{
    PyObject *old = SLOT(obj, off);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
}

static int
Dispatcher_init(Dispatcher *self, PyObject *args, PyObject *kwds)
{
    PyObject *event_cls, *bus, *on_error, *schedule, *ctxvar;
    if (!PyArg_ParseTuple(args, "O!OOOO:Dispatcher", &PyType_Type, &event_cls, &bus,
                          &on_error, &schedule, &ctxvar))
        return -1;
    Py_XSETREF(self->event_cls, (PyTypeObject *)Py_NewRef(event_cls));
    Py_XSETREF(self->bus, Py_NewRef(bus));
    Py_XSETREF(self->on_error, Py_NewRef(on_error));
    Py_XSETREF(self->schedule, Py_NewRef(schedule));
    Py_XSETREF(self->ctxvar, Py_NewRef(ctxvar));
    if ((self->off_seq = slot_offset(self->event_cls, "_seq")) < 0) return -1;
    if ((self->off_emit = slot_offset(self->event_cls, "_emit_ns")) < 0) return -1;
    if ((self->off_cause = slot_offset(self->event_cls, "_cause")) < 0) return -1;
    if ((self->off_bus = slot_offset(self->event_cls, "_bus")) < 0) return -1;
    return 0;
}

static PyObject *
Dispatcher_set_routes(Dispatcher *self, PyObject *args)
{
    PyObject *routes, *default_route;
    if (!PyArg_ParseTuple(args, "O!O!:set_routes", &PyDict_Type, &routes, &PyTuple_Type,
                          &default_route))
        return NULL;
    Py_XSETREF(self->routes, Py_NewRef(routes));
    Py_XSETREF(self->default_route, Py_NewRef(default_route));
    Py_RETURN_NONE;
}

static int
call_handlers(Dispatcher *self, PyObject *handlers, PyObject *event)
{
    Py_ssize_t n = PyTuple_GET_SIZE(handlers);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *handler = PyTuple_GET_ITEM(handlers, i);
        PyObject *res = PyObject_Vectorcall(handler, &event, 1, NULL);
        if (res != NULL) {
            Py_DECREF(res);
            continue;
        }
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return -1;  /* KeyboardInterrupt, SystemExit, ...: let it propagate */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (tb != NULL) PyException_SetTraceback(value, tb);
        PyObject *r = PyObject_CallFunctionObjArgs(self->on_error, handler, event, value, NULL);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        if (r == NULL) return -1;
        Py_DECREF(r);
    }
    return 0;
}

/* Validate, copy if already stamped, stamp and count `event`. Returns a new reference to
 * the stamped event and sets *route_out to a new reference to its route. */
static PyObject *
begin(Dispatcher *self, PyObject *event, PyObject *cause_override, PyObject **route_out)
{
    if (self->routes == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "evlab: dispatcher has no routes");
        return NULL;
    }
    if (!PyObject_TypeCheck(event, self->event_cls)) {
        PyErr_Format(PyExc_TypeError, "emit() takes an Event, got %.200s",
                     Py_TYPE(event)->tp_name);
        return NULL;
    }
    PyObject *seq_slot = SLOT(event, self->off_seq);
    if (seq_slot != NULL && seq_slot != Py_None) {  /* already emitted: emit a copy */
        event = PyObject_CallMethodNoArgs(event, str_copy);
        if (event == NULL) return NULL;
    }
    else {
        Py_INCREF(event);
    }

    /* cause: as given, else the thread's current event, else the async context's */
    PyObject *cause = thread_event;  /* borrowed: alive while its dispatch runs */
    PyObject *ctx_cause = NULL;
    if (cause_override != NULL && cause_override != Py_None) {
        if (!PyObject_TypeCheck(cause_override, self->event_cls)) {
            PyErr_Format(PyExc_TypeError, "cause must be an Event, got %.200s",
                         Py_TYPE(cause_override)->tp_name);
            goto fail;
        }
        cause = cause_override;
    }
    else if (cause == NULL) {
        if (PyContextVar_Get(self->ctxvar, NULL, &ctx_cause) < 0) goto fail;
        if (ctx_cause != Py_None) cause = ctx_cause;
    }

    PyObject *seq = PyLong_FromLongLong(++self->seq);
    if (seq == NULL) { Py_XDECREF(ctx_cause); goto fail; }
    set_slot(event, self->off_seq, seq);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    PyObject *now = PyLong_FromLongLong((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    if (now == NULL) { Py_XDECREF(ctx_cause); goto fail; }
    set_slot(event, self->off_emit, now);
    if (cause != NULL && PyObject_TypeCheck(cause, self->event_cls)) {
        PyObject *cause_seq = SLOT(cause, self->off_seq);
        set_slot(event, self->off_cause, Py_NewRef(cause_seq ? cause_seq : Py_None));
    }
    Py_XDECREF(ctx_cause);
    set_slot(event, self->off_bus, Py_NewRef(self->bus));

    /* route: the event class's `type` -> (sync, async, counter) */
    PyObject *etype = _PyType_Lookup(Py_TYPE(event), str_type);  /* borrowed */
    PyObject *route = NULL;
    if (etype != NULL) {
        route = PyDict_GetItemWithError(self->routes, etype);
        if (route == NULL && PyErr_Occurred()) goto fail;
    }
    if (route == NULL) route = self->default_route;
    PyObject *counter = PyTuple_GET_ITEM(route, 2);  /* an itertools.count */
    PyObject *counted = Py_TYPE(counter)->tp_iternext(counter);
    if (counted == NULL) goto fail;
    Py_DECREF(counted);
    *route_out = Py_NewRef(route);  /* routes may be replaced while handlers run */
    return event;

fail:
    Py_DECREF(event);
    return NULL;
}

/* (event, *, cause=None) from a vectorcall */
static int
parse_event_cause(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                  PyObject *kwnames, PyObject **event, PyObject **cause)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    *cause = NULL;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly one event", fname);
        return -1;
    }
    *event = args[0];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(kwnames, i)) ||
            PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), "cause") != 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R",
                         fname, PyTuple_GET_ITEM(kwnames, i));
            return -1;
        }
        *cause = args[nargs + i];
    }
    return 0;
}

static PyObject *
Dispatcher_stamp(Dispatcher *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *event, *cause, *route;
    if (parse_event_cause("stamp", args, nargs, kwnames, &event, &cause) < 0) return NULL;
    event = begin(self, event, cause, &route);
    if (event != NULL) Py_DECREF(route);
    return event;
}

static PyObject *
Dispatcher_emit(Dispatcher *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *event, *cause, *route;
    if (parse_event_cause("emit", args, nargs, kwnames, &event, &cause) < 0) return NULL;
    event = begin(self, event, cause, &route);
    if (event == NULL) return NULL;
    PyObject *outer = thread_event;
    thread_event = event;
    int rc = call_handlers(self, PyTuple_GET_ITEM(route, 0), event);
    if (rc == 0 && PyTuple_GET_SIZE(PyTuple_GET_ITEM(route, 1)) > 0) {
        PyObject *r = PyObject_CallFunctionObjArgs(self->schedule, PyTuple_GET_ITEM(route, 1),
                                                   event, NULL);
        if (r == NULL) rc = -1; else Py_DECREF(r);
    }
    thread_event = outer;
    Py_DECREF(route);
    if (rc < 0) { Py_DECREF(event); return NULL; }
    return event;
}

static PyObject *
Dispatcher_next_seq(Dispatcher *self, PyObject *unused)
{
    return PyLong_FromLongLong(++self->seq);
}

static int
Dispatcher_traverse(Dispatcher *self, visitproc visit, void *arg)
{
    Py_VISIT(self->event_cls);
    Py_VISIT(self->bus);
    Py_VISIT(self->on_error);
    Py_VISIT(self->schedule);
    Py_VISIT(self->ctxvar);
    Py_VISIT(self->routes);
    Py_VISIT(self->default_route);
    return 0;
}

static int
Dispatcher_clear(Dispatcher *self)
{
    Py_CLEAR(self->event_cls);
    Py_CLEAR(self->bus);
    Py_CLEAR(self->on_error);
    Py_CLEAR(self->schedule);
    Py_CLEAR(self->ctxvar);
    Py_CLEAR(self->routes);
    Py_CLEAR(self->default_route);
    return 0;
}

static void
Dispatcher_dealloc(Dispatcher *self)
{
    PyObject_GC_UnTrack(self);
    Dispatcher_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Dispatcher_methods[] = {
    {"emit", (PyCFunction)(void (*)(void))Dispatcher_emit, METH_FASTCALL | METH_KEYWORDS,
     "Stamp and dispatch one event (see EventBus.emit)."},
    {"stamp", (PyCFunction)(void (*)(void))Dispatcher_stamp, METH_FASTCALL | METH_KEYWORDS,
     "Stamp and count one event without dispatching it (for the Python emit_async)."},
    {"next_seq", (PyCFunction)Dispatcher_next_seq, METH_NOARGS,
     "Take the next sequence number (for the Python emit_async)."},
    {"set_routes", (PyCFunction)Dispatcher_set_routes, METH_VARARGS,
     "Replace the routes: dict type -> (sync, async, count), and the default route."},
    {NULL}
};

static PyTypeObject DispatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "evlab._speedups.Dispatcher",
    .tp_doc = "The C emit of an EventBus.",
    .tp_basicsize = sizeof(Dispatcher),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Dispatcher_init,
    .tp_dealloc = (destructor)Dispatcher_dealloc,
    .tp_traverse = (traverseproc)Dispatcher_traverse,
    .tp_clear = (inquiry)Dispatcher_clear,
    .tp_methods = Dispatcher_methods,
};

static PyMethodDef module_methods[] = {
    {"get_current", get_current, METH_NOARGS,
     "The event whose sync handlers run on this thread now, or None."},
    {NULL}
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "evlab._speedups", "C accelerator for EventBus.emit.", -1,
    module_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    str_copy = PyUnicode_InternFromString("copy");
    str_type = PyUnicode_InternFromString("type");
    if (!str_copy || !str_type) return NULL;
    if (PyType_Ready(&DispatcherType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Dispatcher", (PyObject *)&DispatcherType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
