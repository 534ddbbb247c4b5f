# Type stubs for zk_layers._convolution, compiled from src/_convolution.pyx (also
# built as _convolution_avx2 and _convolution_avx512).  Conventions: see
# _activations.pyi.  Arrays are 1-D views of C-contiguous buffers unless a
# shape is given; the geometry arguments are (n_images or n_planes, channels,
# height, width, filter_h, filter_w, stride, pad, out_h, out_w), checked by
# zk_layers.convolution.

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_Float = TypeVar("_Float", np.float32, np.float64)

# col (N*OH*OW, C*FH*FW): the book's im2col
def im2col(x: NDArray[_Float], col: NDArray[_Float], n_images: int, channels: int, height: int, width: int,
           filter_h: int, filter_w: int, stride: int, pad: int, out_h: int, out_w: int, n_threads: int) -> None: ...

# col (N, C*FH*FW, OH*OW): the patches of each image, one row per filter tap
def im2col_transposed(x: NDArray[_Float], col: NDArray[_Float], n_images: int, channels: int, height: int,
                      width: int, filter_h: int, filter_w: int, stride: int, pad: int, out_h: int, out_w: int,
                      n_threads: int) -> None: ...

# the same from float32 images into float64 patches
def im2col_transposed_widened(x: NDArray[np.float32], col: NDArray[np.float64], n_images: int, channels: int,
                              height: int, width: int, filter_h: int, filter_w: int, stride: int, pad: int,
                              out_h: int, out_w: int, n_threads: int) -> None: ...

# dx (N, C, H, W) = the adjoint of im2col applied to col
def col2im(col: NDArray[_Float], dx: NDArray[_Float], n_images: int, channels: int, height: int, width: int,
           filter_h: int, filter_w: int, stride: int, pad: int, out_h: int, out_w: int, n_threads: int) -> None: ...

def col2im_transposed(col: NDArray[_Float], dx: NDArray[_Float], n_images: int, channels: int, height: int,
                      width: int, filter_h: int, filter_w: int, stride: int, pad: int, out_h: int, out_w: int,
                      n_threads: int) -> None: ...

# out (N, FN, P): out[n, f, :] += b[f]
def conv_bias_add_inplace(out: NDArray[_Float], b: NDArray[_Float], n_threads: int) -> None: ...

# db[f] = sum over n, p of dout[n, f, p]; dout (N, FN, P)
def conv_bias_gradient(dout: NDArray[_Float], db: NDArray[_Float], n_threads: int) -> None: ...

# out and arg_max (N*C*OH*OW): each window's maximum and its index i*pool_w + j
def max_pool_forward(x: NDArray[_Float], out: NDArray[_Float], arg_max: NDArray[np.int32], n_planes: int,
                     height: int, width: int, pool_h: int, pool_w: int, stride: int, pad: int, out_h: int,
                     out_w: int, n_threads: int) -> None: ...

# dx (N*C*H*W) = dout scattered to the arg_max positions
def max_pool_backward(dout: NDArray[_Float], arg_max: NDArray[np.int32], dx: NDArray[_Float], n_planes: int,
                      height: int, width: int, pool_h: int, pool_w: int, stride: int, pad: int, out_h: int,
                      out_w: int, n_threads: int) -> None: ...
