# Type stubs for zk_layers._activations, compiled from src/_activations.pyx.
#
# setup.py builds the same source as _activations_avx2 and _activations_avx512
# too (same API; the variants have no stubs of their own: only zk_layers._kernels
# imports them, and it picks one at import).
# Every kernel module follows these conventions:
# - each kernel is a Cython fused function over `floating`: a call picks the
#   float32 or float64 build from its arguments, and kernel["float"] or
#   kernel["double"] is one of them (zk_layers._kernels takes both once);
# - arrays are C-contiguous, the floating ones of one dtype and matching
#   shapes; nothing is checked by the kernels (zk_layers.layers validates);
# - outputs are written in place; n_threads >= 1.

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_Float = TypeVar("_Float", np.float32, np.float64)

# mask = x <= 0; out = 0 where mask else x
def relu_forward(x: NDArray[_Float], out: NDArray[_Float], mask: NDArray[np.uint8], n_threads: int) -> None: ...

# dx = 0 where mask else dout
def relu_backward(dout: NDArray[_Float], mask: NDArray[np.uint8], dx: NDArray[_Float], n_threads: int) -> None: ...

# out = 1 / (1 + exp(-x))
def sigmoid_forward(x: NDArray[_Float], out: NDArray[_Float], n_threads: int) -> None: ...

# dx = dout * (1 - out) * out
def sigmoid_backward(dout: NDArray[_Float], out: NDArray[_Float], dx: NDArray[_Float], n_threads: int) -> None: ...

# One-call entry points: the layer's whole common case (checks in C,
# allocation through NumPy's C API, the kernel); None when it does not apply
# (then the layer validates in Python).  `grain` is a GRAINS field.
def relu_forward_call(x: object, grain: int) -> tuple[np.ndarray, np.ndarray] | None: ...
def relu_backward_call(dout: object, mask: object, grain: int) -> np.ndarray | None: ...
def sigmoid_forward_call(x: object, grain: int) -> np.ndarray | None: ...
def sigmoid_backward_call(dout: object, out: object, grain: int) -> np.ndarray | None: ...
