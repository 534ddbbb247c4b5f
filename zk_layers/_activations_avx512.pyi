# Type stubs for zk_layers._activations_avx512: src/_activations.pyx built with AVX512 flags by setup.py,
# the same API as zk_layers._activations (see _activations.pyi).

from ._activations import relu_backward as relu_backward
from ._activations import relu_forward as relu_forward
from ._activations import sigmoid_backward as sigmoid_backward
from ._activations import sigmoid_forward as sigmoid_forward
