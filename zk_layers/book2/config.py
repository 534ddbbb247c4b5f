"""The book's ``common/config.py``: ``GPU``, always False here.

The book switches to CuPy with ``config.GPU = True``.  zk_layers is CPU
code, so that assignment raises ValueError at once, with what to do instead,
rather than failing later inside a layer.
"""
from __future__ import annotations

import sys
import types
from typing import Any

GPU = False


class _Config(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "GPU" and value:
            raise ValueError(
                f"config.GPU must be False with zk_layers, got {value!r}: the book's GPU mode needs "
                f"CuPy, and zk_layers' layers are compiled CPU code; run the script without "
                f"`config.GPU = True` (the zk_layers layers are the fast path)")
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Config
