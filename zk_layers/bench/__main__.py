"""``python -m zk_layers.bench``: the same as ``zk-layers bench``."""
import sys

from ._cli import main

sys.exit(main())
