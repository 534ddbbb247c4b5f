# Type stubs for zk_layers._regularization, compiled from src/_regularization.pyx
# (also built as _regularization_avx2 and _regularization_avx512).
# Conventions: see _activations.pyi.  (N, D) arrays are passed flattened
# (N * D elements, C order) with n = N; per-feature arrays have D elements.

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_Float = TypeVar("_Float", np.float32, np.float64)

# mu, var, std per feature; xc = x - mu; xn = xc / std; out = gamma * xn + beta
def batchnorm_forward_train(x: NDArray[_Float], gamma: NDArray[_Float], beta: NDArray[_Float],
                            xc: NDArray[_Float], xn: NDArray[_Float], out: NDArray[_Float],
                            mu: NDArray[_Float], var: NDArray[_Float], std: NDArray[_Float],
                            n: int, n_threads: int) -> None: ...

# out = gamma * ((x - running_mean) / denom) + beta
def batchnorm_forward_test(x: NDArray[_Float], running_mean: NDArray[_Float], denom: NDArray[_Float],
                           gamma: NDArray[_Float], beta: NDArray[_Float], out: NDArray[_Float],
                           n: int, n_threads: int) -> None: ...

# dx, dgamma, dbeta from the saved xc, xn, std (work: 2 * D scratch elements)
def batchnorm_backward(dout: NDArray[_Float], xc: NDArray[_Float], xn: NDArray[_Float],
                       gamma: NDArray[_Float], std: NDArray[_Float], dx: NDArray[_Float],
                       dgamma: NDArray[_Float], dbeta: NDArray[_Float], work: NDArray[_Float],
                       n: int, n_threads: int) -> None: ...

# mask = r > ratio; out = x * mask
def dropout_forward_train(x: NDArray[_Float], r: NDArray[np.float64], ratio: float,
                          mask: NDArray[np.bool_], out: NDArray[_Float], n_threads: int) -> None: ...

# out = x * scale
def dropout_scale(x: NDArray[_Float], scale: float, out: NDArray[_Float], n_threads: int) -> None: ...

# dx = dout * mask
def dropout_backward(dout: NDArray[_Float], mask: NDArray[np.bool_], dx: NDArray[_Float], n_threads: int) -> None: ...
