"""python -m zk_layers: the zk-layers command."""
import sys

from .cli import main

sys.exit(main())
