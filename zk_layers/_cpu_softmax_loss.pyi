# Type stubs for zk_layers._cpu_softmax_loss (and its _avx2, _avx512 builds),
# compiled from src/_cpu_softmax_loss.pyx: kernels only, as a typed table of C
# function pointers (src/_tables.pxd) that only the glue, zk_layers._softmax_loss,
# calls.

# A PyCapsule (its name: src/_cpu_softmax_loss.pyx).
TABLE: object
