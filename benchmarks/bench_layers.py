"""Run the benchmark suite of zk_layers (the same as `zk-layers bench`).

    python benchmarks/bench_layers.py                          # quick: book and mid sizes
    python benchmarks/bench_layers.py --sizes book --threads 1 # the core issue's first run
    python benchmarks/bench_layers.py --full --json benchmarks/results/<machine>.json

The suite itself lives in zk_layers/bench.py so that installed users have
it too; see there for the protocol.
"""
import sys

from zk_layers.bench import main

if __name__ == "__main__":
    sys.exit(main())
