"""The book's ``common/np.py``: ``np`` is NumPy (the book's CPU branch) and
``GPU`` is :data:`zk_layers.book2.config.GPU`, both for star imports
(``base_model.py`` and the scripts use them from ``from common.np import *``)."""
from __future__ import annotations

import numpy as np

from .config import GPU

__all__ = ["np", "GPU"]
