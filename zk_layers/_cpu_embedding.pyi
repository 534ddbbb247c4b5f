# Type stubs for zk_layers._cpu_embedding (and its _avx2, _avx512 builds),
# compiled from src/_cpu_embedding.pyx: kernels only, as a typed table of C
# function pointers (src/_tables.pxd) that only the glue, zk_layers._embedding,
# calls.

# A PyCapsule (its name: src/_cpu_embedding.pyx).
TABLE: object
