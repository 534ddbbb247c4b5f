"""``python -m zk_layers.book run|check ...``: see zk_layers.book._run and _check."""
import sys

from ._cli import main

sys.exit(main())
