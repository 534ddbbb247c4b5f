# Type stubs for zk_layers._cpu_recurrent (and its _avx2, _avx512 builds),
# compiled from src/_cpu_recurrent.pyx: kernels only, as a typed table of C
# function pointers (src/_tables.pxd) that only the glue, zk_layers._recurrent,
# calls.

# A PyCapsule (its name: src/_cpu_recurrent.pyx).
TABLE: object
