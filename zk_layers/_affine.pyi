# Type stubs for zk_layers._affine, compiled once from src/_affine.pyx (the
# glue; its kernels are src/_cpu_affine.pyx, built per instruction set).
# Conventions: see _activations.pyi.

import numpy as np

def bind(kernels: object, policy: object) -> None: ...

# np.dot(a, b, out=out): the one product call.
def dot(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray: ...

# out = x @ W + b (or product + b when the layer formed the product); None
# when the arrays are not ready.
def affine_forward(x: object, W: object, b: object, product: np.ndarray | None = None) -> np.ndarray | None: ...

# (dW, db, dx or None); dW may be given, formed by the layer; None when the
# arrays are not ready.
def affine_backward(
    dout: object, x: object, W: object, b: object, need_dx: bool, dW: np.ndarray | None = None,
    checked: bool = False, owner: object = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None: ...

# NumPy's BLAS routines, called directly (src/_blas.pxi): the lookup (their
# symbol prefix, or None), the switch, and the two calls for the tests (the
# result, or None when the route is off or the case is NumPy's alone).
def find_blas(numpy_module: str) -> str | None: ...
def use_blas(on: bool) -> bool: ...
def direct_dot(a: object, b: object, out: np.ndarray | None = None) -> np.ndarray | None: ...
def direct_matmul(a: object, b: object, out: np.ndarray | None = None) -> np.ndarray | None: ...
