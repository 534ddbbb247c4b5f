"""The book's ``common/layers.py``: its 8 layer classes on zk_layers' compiled core.

``Relu``, ``Sigmoid``, ``Affine``, ``SoftmaxWithLoss`` (chapter 5),
``Dropout``, ``BatchNormalization`` (chapter 6) and ``Convolution``,
``Pooling`` (chapter 7), with the book's constructor arguments, attributes
and call signatures.  As in the book, a star import of this module also
brings ``np``, the functions of :mod:`zk_layers.book.functions`, ``im2col``
and ``col2im``.

``Convolution`` and ``Pooling`` are zk_layers'.  See docs/usage.md for where these classes
differ from the book on purpose (inputs never modified, labels and shapes
checked, float16 computed in float64).
"""
from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401 (the book's scripts take np from `from common.layers import *`)

from ..convolution import Convolution as _Convolution
from ..convolution import Pooling  # noqa: F401
from ..layers import Affine, Relu, Sigmoid, SoftmaxWithLoss  # noqa: F401
from ..regularization import BatchNormalization, Dropout  # noqa: F401
from .functions import *  # noqa: F403 (the book's module namespace)
from .util import col2im, im2col  # noqa: F401


class Convolution(_Convolution):
    """zk_layers' Convolution, also taking a scalar bias as the book's does:
    ``ch07/apply_filter.py`` passes ``b=0``, which the book broadcasts.  A
    scalar becomes an array of one bias per filter (there is no caller's
    array to keep: a scalar cannot be updated in place)."""

    def __init__(self, W: Any, b: Any, stride: int = 1, pad: int = 0) -> None:
        if np.ndim(b) == 0 and isinstance(W, np.ndarray) and W.ndim == 4 and W.dtype.kind == "f":
            b = np.full(W.shape[0], b, dtype=W.dtype)
        super().__init__(W, b, stride, pad)
