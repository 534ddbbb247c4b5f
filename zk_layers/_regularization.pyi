# Type stubs for zk_layers._regularization, compiled once from
# src/_regularization.pyx (the glue; its kernels are
# src/_cpu_regularization.pyx, built per instruction set).  Every entry point
# returns None, doing nothing, when its arrays are not ready: exact
# C-contiguous ndarrays of one float dtype (the draws float64, the mask
# boolean), shapes that fit.

import numpy as np

def bind(kernels: object, policy: object) -> None: ...

# (out, xc, xn, mu, var, std) for x (N, D), gamma and beta (D,)
def batchnorm_forward_train(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None: ...

# out = gamma * ((x - mean) / denom) + beta
def batchnorm_forward_test(x: np.ndarray, mean: np.ndarray, denom: np.ndarray, gamma: np.ndarray,
                           beta: np.ndarray) -> np.ndarray | None: ...

# (dx, dgamma, dbeta)
def batchnorm_backward(dout: np.ndarray, xc: np.ndarray, xn: np.ndarray, gamma: np.ndarray,
                       std: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None: ...

# (out, mask): mask = r > ratio, out = x * mask
def dropout_forward_train(x: np.ndarray, r: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray] | None: ...

# out = x * scale
def dropout_scale(x: np.ndarray, scale: float) -> np.ndarray | None: ...

# dx = dout * mask
def dropout_backward(dout: np.ndarray, mask: np.ndarray) -> np.ndarray | None: ...
