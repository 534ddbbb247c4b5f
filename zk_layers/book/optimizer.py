"""The book's ``common/optimizer.py``: SGD, Momentum, Nesterov, AdaGrad,
RMSprop and Adam, from :mod:`zk_layers.optimizers` (one compiled pass per
parameter, bitwise the book's formulas).

Like the book's module, a star import also brings ``np``: some of the
book's scripts (``ch06/optimizer_compare_mnist.py``) use it from there.
"""
from __future__ import annotations

import numpy as np  # noqa: F401 (the book's scripts take np from `from common.optimizer import *`)

from ..optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop  # noqa: F401
