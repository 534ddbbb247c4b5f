# cython: language_level=3, freethreading_compatible=True
"""What the OpenMP runtime behind the kernels says, and the one knob we turn.

The effective thread count is decided in zk_layers/_threads.py; this module
only reports what was compiled in and what the runtime's ICVs are (so that
OMP_NUM_THREADS and threadpoolctl, which calls omp_set_num_threads on the
libgomp/libomp loaded in the process, are honoured).
"""
from _common cimport ZK_OPENMP_ENABLED, zk_omp_get_max_threads, zk_omp_set_num_threads


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(ZK_OPENMP_ENABLED)


def omp_max_threads():
    """omp_get_max_threads() of this thread (1 in a build without OpenMP)."""
    return zk_omp_get_max_threads()


def omp_set_threads(int n):
    """omp_set_num_threads(n); a no-op in a build without OpenMP."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    zk_omp_set_num_threads(n)
