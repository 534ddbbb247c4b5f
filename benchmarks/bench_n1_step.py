"""The two-layer net's training step at N = 1, piece by piece, against the
memory passes it cannot avoid.

``zk.TwoLayerNet(784, 50, 10)`` + ``zk.SGD``, float64, one sample: the step,
its gradient and its update, each layer's forward and backward, and the
three passes over W1 (784 x 50, 314 KB) next to what plain memory
operations of the same size take here: the forward product against a read
of W1, dW1's outer product against a ``fill`` of an array of its size, the
update against a copy of W1.  One thread, pinned to one core; every piece
timed in turn, many repeats, medians.

    PYTHONPATH=. python benchmarks/bench_n1_step.py
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

import zk_layers as zk
from zk_layers.bench import cpu_model, pinned_to_one_core


def main() -> None:
    with pinned_to_one_core(True):
        rng = np.random.default_rng(0)
        net, optimizer = zk.TwoLayerNet(784, 50, 10), zk.SGD(0.1)
        x, t = rng.random((1, 784)), np.array([3])
        grads = net.gradient(x, t)
        affine1, relu, affine2 = net.layers.values()
        loss = net.lastLayer
        h = affine1.forward(x)
        hr = relu.forward(h)
        scores = affine2.forward(hr)
        loss.forward(scores, t)
        dscores = loss.backward(1)
        dhr = affine2.backward(dscores)
        dh = relu.backward(dhr)
        W1, dW1 = net.params["W1"], grads["W1"]
        scratch = np.empty_like(W1)
        pieces: dict[str, Callable[[], object]] = {
            "step (gradient + update)": lambda: optimizer.update(net.params, net.gradient(x, t)),
            "gradient": lambda: net.gradient(x, t),
            "update": lambda: optimizer.update(net.params, grads),
            "Affine1 forward (x @ W1, bias)": lambda: affine1.forward(x),
            "Relu forward": lambda: relu.forward(h),
            "Affine2 forward": lambda: affine2.forward(hr),
            "SoftmaxWithLoss forward": lambda: loss.forward(scores, t),
            "SoftmaxWithLoss backward": lambda: loss.backward(1),
            "Affine2 backward": lambda: affine2.backward(dscores),
            "Relu backward": lambda: relu.backward(dhr),
            "Affine1 backward (dW1 = x.T (x) dh, db1)": lambda: affine1.backward(dh),
            "memory: read W1 (np.dot(x, W1))": lambda: np.dot(x, W1),
            "memory: write 314 KB (fill)": lambda: scratch.fill(1.0),
            "memory: copy W1 (read + write)": lambda: np.copyto(scratch, W1),
            "memory: W1 - 0.1 * dW1 in NumPy (two passes)": lambda: np.subtract(W1, np.multiply(dW1, 0.1, out=scratch),
                                                                                 out=scratch),
        }
        times: dict[str, list[float]] = {name: [] for name in pieces}
        with threadpool_limits(1), zk.limit_threads(1):
            for _ in range(3001):
                for name, piece in pieces.items():
                    start = time.perf_counter()
                    piece()
                    times[name].append(time.perf_counter() - start)
        print(f"{cpu_model()}, NumPy {np.__version__}, one thread, pinned; medians of 3000 repeats")
        print("| piece | us |\n|---|---|")
        for name, samples in times.items():
            print(f"| {name} | {statistics.median(samples[1:]) * 1e6:.2f} |")


if __name__ == "__main__":
    main()
