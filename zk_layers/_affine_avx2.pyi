# Type stubs for zk_layers._affine_avx2: src/_affine.pyx built with AVX2 flags by setup.py,
# the same API as zk_layers._affine (see _affine.pyi).

from ._affine import bias_add_inplace as bias_add_inplace
from ._affine import bias_gradient as bias_gradient
