# Type stubs for zk_layers._update, compiled once from src/_update.pyx (the
# glue; its kernels are src/_cpu_update.pyx, built per instruction set).

# The optimizer kinds (src/_tables.pxd, UpdateKind: the state arrays and
# the coefficients each takes).
SGD: int
MOMENTUM: int
NESTEROV: int
ADAGRAD: int
RMSPROP: int
ADAM: int

def bind(kernels: object, policy: object) -> None: ...

# Whether the kernels take param (updated in place) and grad as they are.
def fits(param: object, grad: object) -> bool: ...

# SGD.update of every entry of params by grads' entry of the same key, in one
# call; True, or None when an entry is missing or not ready (nothing written).
def sgd_all(params: dict[str, object], grads: dict[str, object], lr: float) -> bool | None: ...

# One update of param (and the state s1, s2) in place by the optimizer
# `kind`; True, or None when the arrays are not ready (nothing written).
def step(kind: int, param: object, grad: object, s1: object = None, s2: object = None,
         c0: float = 0.0, c1: float = 0.0, c2: float = 0.0, c3: float = 0.0) -> bool | None: ...
