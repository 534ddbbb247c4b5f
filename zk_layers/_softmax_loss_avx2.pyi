# Type stubs for zk_layers._softmax_loss_avx2: src/_softmax_loss.pyx built with AVX2 flags by setup.py,
# the same API as zk_layers._softmax_loss (see _softmax_loss.pyi).

from ._softmax_loss import first_invalid_label as first_invalid_label
from ._softmax_loss import (
    softmax_cross_entropy_backward as softmax_cross_entropy_backward,
)
from ._softmax_loss import (
    softmax_cross_entropy_forward as softmax_cross_entropy_forward,
)
