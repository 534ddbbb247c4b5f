# Type stubs for zk_layers._recurrent, compiled once from src/_recurrent.pyx
# (the glue; its kernels are src/_cpu_recurrent.pyx, built per instruction
# set): one RNN or LSTM time step's elementwise work, written in place into
# the caller's arrays (exact C-contiguous ndarrays of one float dtype; any
# other raises ValueError or TypeError before anything is written).

import numpy as np

def bind(kernels: object, policy: object) -> None: ...

# a = gates[:, t] + g + b; gates[:, t] = the activated gates (f, g, i, o);
# cs[:, t], tcs[:, t] = tanh(cs[:, t]), hs[:, t] (c_prev = c0 at t = 0)
def lstm_forward_step(gates: np.ndarray, g: np.ndarray, b: np.ndarray, c0: np.ndarray,
                      cs: np.ndarray, tcs: np.ndarray, hs: np.ndarray, t: int) -> None: ...

# dA[:, t] = the gates' gradients for dh = dhs[:, t] + dh_rec and dc; dc
# becomes the gradient of c_prev
def lstm_backward_step(gates: np.ndarray, dhs: np.ndarray, dh_rec: np.ndarray, dc: np.ndarray,
                       c0: np.ndarray, cs: np.ndarray, tcs: np.ndarray, dA: np.ndarray,
                       t: int) -> None: ...

# hs[:, t] = tanh(g + ax[:, t] + b)
def rnn_forward_step(ax: np.ndarray, g: np.ndarray, b: np.ndarray, hs: np.ndarray, t: int) -> None: ...

# dts[:, t] = (dhs[:, t] + dh_rec) * (1 - hs[:, t] ** 2)
def rnn_backward_step(hs: np.ndarray, dhs: np.ndarray, dh_rec: np.ndarray, dts: np.ndarray,
                      t: int) -> None: ...
