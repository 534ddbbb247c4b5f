# cython: language_level=3, freethreading_compatible=True
"""What the build and the machine offer the kernels, and the thread policy.

Facts: what was compiled in, the OpenMP runtime's ICVs (so that
OMP_NUM_THREADS and threadpoolctl, which calls omp_set_num_threads on the
libgomp/libomp loaded in the process, are honoured), the CPU's vector
extensions; and ``take_owned``, which hands a layer back an array it saved
when nothing else holds it.

Policy, in one compiled home: how many threads a piece of work gets
(``threads_for``) and the grains it is measured in (``GRAINS``).  The kernel
modules import them from here, never from a Python module of the package;
zk_layers/_threads.py is the public face (``get_num_threads``,
``set_num_threads``, ``limit_threads``) and documents the precedence.  The
kernel build is chosen in zk_layers/_kernels.py.
"""
import contextvars
import os

from cpython.object cimport PyObject
from cpython.pycapsule cimport PyCapsule_New

from _common cimport ZK_OPENMP_ENABLED, zk_omp_get_max_threads
from _tables cimport (GRAIN_ELEMENTWISE, GRAIN_EXP, GRAIN_ROWWISE,
                      GRAIN_UPDATE, Policy)


cdef extern from "Python.h":
    Py_ssize_t Py_REFCNT(PyObject* o)


cdef extern from "_cpu_features.h":
    int zk_cpu_has_avx2() noexcept nogil
    int zk_cpu_has_avx512() noexcept nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(ZK_OPENMP_ENABLED)


def omp_max_threads():
    """omp_get_max_threads() of this thread (1 in a build without OpenMP)."""
    return zk_omp_get_max_threads()


def cpu_has_avx2():
    """True when the CPU and OS support AVX2."""
    return bool(zk_cpu_has_avx2())


def cpu_has_avx512():
    """True when the CPU and OS support AVX-512 F, VL, BW and DQ (and AVX2)."""
    return bool(zk_cpu_has_avx512())


def take_owned(object owner, str name):
    """The value of ``owner``'s attribute ``name``, taken out of it (the
    attribute set to None), when the attribute holds its only reference and
    the owner's class defines no attribute of that name; else None, and
    nothing changes.  The layers' one way to reuse an array they saved.

    Counted in C, so the answer does not depend on how the interpreter
    counts the references of its own locals and arguments (Python 3.14
    borrows some that 3.13 counted, which makes ``sys.getrefcount`` smaller
    by one).  Read as an attribute, not through ``owner.__dict__``: on
    CPython 3.11+ asking for an instance's __dict__ slows every later
    attribute access of that instance.  A class attribute is shared by every
    instance (and the class holds the reference, which the count would not
    see once the instance's own shadows it), so it is never taken.  A weak
    reference or a raw address is not a reference.
    """
    cdef object value = getattr(owner, name, None)
    # Ours (the local) and the owner's.
    if value is None or Py_REFCNT(<PyObject*>value) != 2 or _class_defines(type(owner), name):
        return None
    setattr(owner, name, None)
    return value


# type -> {attribute name: whether the type or a base defines it}: a handful
# of layer classes in practice.  Remembered because hasattr() on a missing
# attribute builds and drops an AttributeError, a third of a small call.
cdef dict _CLASS_DEFINES = {}


def class_defines(type cls, str name):
    """Whether ``cls`` or a base defines the attribute ``name`` (remembered
    per class, as take_owned asks it)."""
    return _class_defines(cls, name)


cdef bint _class_defines(type cls, str name) except -1:
    cdef dict names = _CLASS_DEFINES.get(cls)
    if names is None:
        names = _CLASS_DEFINES[cls] = {}
    cdef object found = names.get(name)
    if found is None:
        found = names[name] = hasattr(cls, name)
    return found is True


# ---------------------------------------------------------------- threads
cdef class Grains:
    """Elements of work per thread below which a parallel region does not pay.

    ``threads_for`` gives one thread below two grains of work and one more
    per grain above.  With the passive OpenMP wait policy (see
    zk_layers/__init__.py) starting a region means waking sleeping threads,
    so a second thread pays only for work of a few hundred microseconds.
    Each grain is half the break-even that ``benchmarks/bench_grain.py``
    measures, so that two threads start exactly there (the figures:
    docs/performance.md, "Why the code is the way it is").

    The one instance, ``GRAINS``, is read at every call (never copied at
    import), so ``forced_grain`` reaches every kernel, the optimizers' too.
    """
    # Relu, bias add/gradient, SGD
    cdef public Py_ssize_t elementwise
    # Sigmoid forward: one exp per element
    cdef public Py_ssize_t exp
    # the softmax loss: max, exp, sum per row
    cdef public Py_ssize_t rowwise
    # AdaGrad, RMSprop, Adam: a square root and a division per element and
    # four to six arrays streamed
    cdef public Py_ssize_t update

    NAMES = ("elementwise", "exp", "rowwise", "update")

    def __init__(self):
        self.elementwise = 1 << 19
        self.exp = 1 << 17
        self.rowwise = 1 << 15
        self.update = 1 << 17

    def __repr__(self):
        values = ", ".join(f"{name}={getattr(self, name)}" for name in self.NAMES)
        return f"Grains({values})"


cdef Grains _GRAINS = Grains()
GRAINS = _GRAINS

# A ``with limit_threads(n):`` block, per Python thread and asyncio task.
BLOCK_THREADS = contextvars.ContextVar("zk_layers_block_threads", default=None)
# set_num_threads's count, a Python int (any positive size, as OMP_NUM_THREADS), or None
cdef object _process_threads = None
cdef bint _in_forked_child = False
# OpenMP reads OMP_NUM_THREADS once, when the runtime starts.
cdef bint _omp_num_threads_set = bool(os.environ.get("OMP_NUM_THREADS", "").strip())


def _count_usable_cpus():
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


USABLE_CPUS = _count_usable_cpus()
cdef Py_ssize_t _usable_cpus = USABLE_CPUS


def get_num_threads():
    """Threads the kernels may use for large work, here and now (the
    precedence: zk_layers/_threads.py).  A Python int: a count set by the
    user may exceed any C integer, and only ``threads_for``'s answer, never
    above the work's grains, reaches a kernel."""
    if _in_forked_child or not ZK_OPENMP_ENABLED:
        return 1
    block = BLOCK_THREADS.get()
    if block is not None:
        return block
    if _process_threads is not None:
        return _process_threads
    omp = zk_omp_get_max_threads()
    return omp if _omp_num_threads_set else min(omp, _usable_cpus)


def set_process_threads(n):
    """The process-wide count (``set_num_threads``; checked there); None unsets it."""
    global _process_threads
    _process_threads = n


def mark_forked_child():
    """From now on one thread: GNU OpenMP hangs in a child forked after the
    parent ran a parallel region."""
    global _in_forked_child
    _in_forked_child = True


cpdef Py_ssize_t threads_for(Py_ssize_t n_items, Py_ssize_t grain) except -1:
    """Threads for ``n_items`` units of work of the given grain (one of
    ``GRAINS``' fields, read at the call): one below two grains, and at most
    one per grain above."""
    if n_items < 2 * grain:
        return 1
    return min(get_num_threads(), n_items // grain)


cdef Py_ssize_t _threads_for_kind(Py_ssize_t n_items, int grain) except -1:
    """threads_for with the grain named by kind (src/_tables.pxd): the
    glue's way in, through POLICY, without a Python call for small work."""
    cdef Py_ssize_t size
    if grain == GRAIN_ELEMENTWISE:
        size = _GRAINS.elementwise
    elif grain == GRAIN_EXP:
        size = _GRAINS.exp
    elif grain == GRAIN_ROWWISE:
        size = _GRAINS.rowwise
    elif grain == GRAIN_UPDATE:
        size = _GRAINS.update
    else:
        raise ValueError(f"unknown grain kind {grain}")
    return threads_for(n_items, size)


cdef Policy _POLICY
_POLICY.threads_for = _threads_for_kind
# The policy as the glue modules take it (their bind()): a capsule, so that
# no compiled module imports a module of the package.
POLICY = PyCapsule_New(<void*>&_POLICY, "zk_layers.Policy", NULL)
