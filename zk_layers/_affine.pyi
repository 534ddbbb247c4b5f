# Type stubs for zk_layers._affine, compiled from src/_affine.pyx (also built
# as _affine_avx2 and _affine_avx512).  Conventions: see _activations.pyi.

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_Float = TypeVar("_Float", np.float32, np.float64)

# out[i, :] += b for every row i; out is (N, M), b has M elements
def bias_add_inplace(out: NDArray[_Float], b: NDArray[_Float], n_threads: int) -> None: ...

# db[j] = sum_i dout[i, j], rows added in order; dout is (N, M), db has M elements
def bias_gradient(dout: NDArray[_Float], db: NDArray[_Float], n_threads: int) -> None: ...

# One-call entry points (see _activations.pyi): out, and (dW, db, dx or None);
# None when the common case does not apply.
def affine_forward_call(x: object, W: object, b: object, grain: int) -> np.ndarray | None: ...
def affine_backward_call(
    dout: object, x: object, W: object, b: object, need_dx: bool, grain: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None: ...
