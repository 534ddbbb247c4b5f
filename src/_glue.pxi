# Included by every glue module, which first names the struct of its kernel
# table (``ctypedef ... Table``) and the name of the capsule that holds it
# (``TABLE_NAME``): the table K, the thread policy P it runs under
# (src/_platform.pyx's POLICY), bind(), which installs both, and how the
# module asks the policy.
cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.limits cimport INT_MAX

from _tables cimport Policy

cnp.import_array()

cdef Table K
cdef Policy P
cdef bint _bound = False


def bind(object kernels, object policy):
    """Call the kernels of ``kernels`` (the TABLE capsule of one build of the
    module's src/_cpu_*.pyx) under the thread policy ``policy``
    (src/_platform.pyx's POLICY).  zk_layers/_kernels.py does it at import."""
    global K, P, _bound
    K = (<Table*>PyCapsule_GetPointer(kernels, TABLE_NAME))[0]
    P = (<Policy*>PyCapsule_GetPointer(policy, "zk_layers.Policy"))[0]
    _bound = True


cdef inline int _threads(Py_ssize_t n, int grain) except -1:
    """Threads for n items of work of the grain kind ``grain``."""
    if not _bound:
        raise RuntimeError(f"{__name__}: no kernels bound (import zk_layers first)")
    cdef Py_ssize_t t = P.threads_for(n, grain)
    return <int>(t if t < INT_MAX else INT_MAX)
