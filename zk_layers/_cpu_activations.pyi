# Type stubs for zk_layers._cpu_activations (and its _avx2, _avx512 builds),
# compiled from src/_cpu_activations.pyx: the Relu and Sigmoid kernels, as a
# typed table of C function pointers (src/_tables.pxd, ActivationKernels)
# that only the glue, zk_layers._activations, calls.

# A PyCapsule named "zk_layers.ActivationKernels".
TABLE: object
