# Type stubs for zk_layers._update_avx512: src/_update.pyx built with AVX512 flags by setup.py,
# the same API as zk_layers._update (see _update.pyi).

from ._update import sgd_update as sgd_update
