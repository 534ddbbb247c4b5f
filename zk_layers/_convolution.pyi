# Type stubs for zk_layers._convolution, compiled once from
# src/_convolution.pyx (the glue; its kernels are src/_cpu_convolution.pyx,
# built per instruction set).  geometry: (N, C, H, W, FH, FW, stride, pad,
# OH, OW); window: (pool_h, pool_w, stride, pad, OH, OW).  Every entry point
# returns None, doing nothing, when its arrays do not fit (see the module).

import numpy as np

Geometry = tuple[int, int, int, int, int, int, int, int, int, int]
Window = tuple[int, int, int, int, int, int]

def bind(kernels: object, policy: object) -> None: ...

# col: the patches of x, (N*P, K) or (N, K, P) when transposed
def im2col(x: np.ndarray, col: np.ndarray, geometry: Geometry, transposed: bool,
           serial: bool = False) -> np.ndarray | None: ...

# dx: the adjoint of im2col
def col2im(col: np.ndarray, dx: np.ndarray, geometry: Geometry, transposed: bool,
           serial: bool = False) -> np.ndarray | None: ...

# out[n, f, :] += b[f] for out (N, FN, P)
def bias_add(out: np.ndarray, b: np.ndarray, serial: bool = False) -> np.ndarray | None: ...

# db[f] = sum over n, p of dout[n, f, p]; with lanes (FN, 8) float64 running
# sums, dout is one block of images in order: db on the last (finish), else lanes
def bias_gradient(dout: np.ndarray, lanes: np.ndarray | None = None,
                  finish: bool = True) -> np.ndarray | None: ...

# (out, windows): each window's maximum and its first index i*pool_w + j (int32)
def max_pool_forward(x: np.ndarray, window: Window) -> tuple[np.ndarray, np.ndarray] | None: ...

# dx: dout scattered to each window's maximum
def max_pool_backward(dout: np.ndarray, windows: np.ndarray, dx: np.ndarray,
                      window: Window) -> np.ndarray | None: ...
