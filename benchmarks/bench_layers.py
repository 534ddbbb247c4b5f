"""Run the benchmark suite of zk_layers (the same as `zk-layers bench`).

    python benchmarks/bench_layers.py                          # quick: book and mid sizes
    python benchmarks/bench_layers.py --sizes book --threads 1 # the book's sizes, one thread
    python benchmarks/bench_layers.py --ops book-loop          # only the book's training loop
    ZK_LAYERS_MNIST_DIR=~/mnist python benchmarks/bench_layers.py --ops book-loop  # on MNIST
    python benchmarks/bench_layers.py --full --json benchmarks/results/<machine>.json

Every ratio is against the book's plain NumPy code (zk_layers/baseline.py),
not against the validated oracle zk_layers.reference.  The suite itself
lives in the zk_layers.bench package so that installed users have it too; see there
for the rows and the protocol.
"""
import sys

from zk_layers.bench import main

if __name__ == "__main__":
    sys.exit(main())
