"""``python -m zk_layers.book run|check ...``: see zk_layers.book._run."""
import sys

from ._run import main

sys.exit(main())
