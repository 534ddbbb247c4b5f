# Declarations shared by the kernel modules: the OpenMP shim, the vectorisable
# exponential, and how a range of work is split between threads.

cdef extern from "_openmp_shim.h":
    int ZK_OPENMP_ENABLED
    int zk_omp_get_max_threads() noexcept nogil

cdef extern from "_exp.h":
    double zk_exp(double x) noexcept nogil
    float zk_expf(float x) noexcept nogil

# Below this many elements a one-thread kernel runs inline with the GIL held:
# releasing and re-taking it (and, with other Python threads waiting, being
# handed it back) costs more than the work.  Anything larger goes through a
# prange region, which runs without the GIL even at num_threads=1.
cdef enum:
    GIL_RELEASE_MIN_ITEMS = 8192


cdef inline Py_ssize_t chunk_start(Py_ssize_t chunk, Py_ssize_t n_chunks,
                                   Py_ssize_t n) noexcept nogil:
    """First index of `chunk` when [0, n) is cut into n_chunks balanced,
    contiguous pieces.  Every kernel partitions its work this way, so which
    thread computes an element never changes what is computed."""
    return (n * chunk) // n_chunks
