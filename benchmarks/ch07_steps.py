"""Estimate the wall time of the book's ch07/train_convnet.py from timed Trainer steps.

The full run is 20 epochs, 12,000 Trainer steps.  This script builds the
book's own objects (its SimpleConvNet, Trainer, loader and Adam, with the
settings of train_convnet.py), with the book's layers ("book") or zk_layers'
("zk") put into common.layers before simple_convnet imports them, on one
thread (OMP/OPENBLAS_NUM_THREADS=1 unless set).  It times STEPS calls of
Trainer.train_step after the first, then one per-epoch evaluation (2 x 1,000
images) and the final accuracy pass over the 10,000 test images; the
estimate is 12,000 x the step time + 20 evaluations + the final pass.

    PYTHONPATH=. python benchmarks/ch07_steps.py zk 150 [--book-dir /work/book]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

FULL_RUN_STEPS = 12_000  # 20 epochs x 60,000 images / batch 100
EPOCHS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("side", choices=["book", "zk"], help="whose layers go into common.layers")
    parser.add_argument("steps", type=int, help="Trainer steps to time")
    parser.add_argument("--book-dir", default=os.environ.get("ZK_LAYERS_BOOK_DIR", "/work/book"),
                        help="checkout of the book's code (default: $ZK_LAYERS_BOOK_DIR or /work/book)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # The book's scripts import common/ and dataset/ from the checkout and
    # read their files relative to ch07/.
    sys.path[0:0] = [os.path.join(args.book_dir, "ch07"), args.book_dir]
    os.chdir(os.path.join(args.book_dir, "ch07"))

    import common.layers
    import numpy as np

    if args.side == "zk":
        import zk_layers as zk

        for name in ("Relu", "Affine", "SoftmaxWithLoss", "Convolution", "Pooling"):
            setattr(common.layers, name, getattr(zk, name))
    from common.trainer import Trainer
    from dataset.mnist import load_mnist
    from simple_convnet import SimpleConvNet

    (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
    np.random.seed(0)  # noqa: NPY002 - the book's global generator
    net = SimpleConvNet(input_dim=(1, 28, 28),
                        conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
                        hidden_size=100, output_size=10, weight_init_std=0.01)
    trainer = Trainer(net, x_train, t_train, x_test, t_test, epochs=EPOCHS, mini_batch_size=100,
                      optimizer="Adam", optimizer_param={"lr": 0.001}, evaluate_sample_num_per_epoch=1000,
                      verbose=False)
    trainer.train_step()  # iteration 0: includes the first epoch's evaluation on 2 x 1000 images

    start = time.perf_counter()
    for _ in range(args.steps):
        trainer.train_step()
    step = (time.perf_counter() - start) / args.steps

    start = time.perf_counter()
    net.accuracy(x_train[:1000], t_train[:1000])
    net.accuracy(x_test[:1000], t_test[:1000])
    evaluation = time.perf_counter() - start

    start = time.perf_counter()
    net.accuracy(x_test, t_test)
    final = time.perf_counter() - start

    total = FULL_RUN_STEPS * step + EPOCHS * evaluation + final
    print(f"{args.side}: {step * 1e3:.1f} ms/step (train_step: gradient + Adam + loss), per-epoch eval "
          f"{evaluation * 1e3:.0f} ms, final test accuracy pass {final:.1f} s -> estimated full run "
          f"{total / 60:.1f} min")


if __name__ == "__main__":
    main()
