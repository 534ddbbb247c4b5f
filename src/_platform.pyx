# cython: language_level=3, freethreading_compatible=True
"""What the build and the machine offer the kernels: OpenMP and CPU features.

The effective thread count is decided in zk_layers/_threads.py and the
kernel build in zk_layers/_kernels.py; this module only reports facts: what
was compiled in, the OpenMP runtime's ICVs (so that OMP_NUM_THREADS and
threadpoolctl, which calls omp_set_num_threads on the libgomp/libomp loaded
in the process, are honoured), and the CPU's vector extensions; and one fact
about the interpreter: whether an attribute's value has no other reference
than the one its owner holds (``held_only_by``).
"""
from cpython.object cimport PyObject

from _common cimport ZK_OPENMP_ENABLED, zk_omp_get_max_threads


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


def held_only_by(object owner, str name):
    """True when ``owner`` has the attribute ``name`` and holds its value's
    only reference.

    Counted in C, so the answer does not depend on how the interpreter
    counts the references of its own locals and arguments (Python 3.14
    borrows some that 3.13 counted, which makes ``sys.getrefcount`` smaller
    by one).  Read as an attribute, not through ``owner.__dict__``: on
    CPython 3.11+ asking for an instance's __dict__ slows every later
    attribute access of that instance.  A weak reference or a raw address is
    not a reference.
    """
    cdef object value = getattr(owner, name, None)
    # Ours (the local) and the owner's.
    return value is not None and Py_REFCNT(<PyObject*>value) == 2
