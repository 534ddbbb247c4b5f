"""Where the time of one small layer call goes (the one-call path).

For Relu, Sigmoid, SoftmaxWithLoss and Affine at N = 1 (50 elements, 10
classes, 784 -> 50), one thread, this times, interleaved:

* ``layer``      the public method, as a user calls it;
* ``book``       the book's plain code for the same call (zk_layers.baseline);
* ``entry``      the compiled one-call entry point alone (checks in C,
                 allocation through NumPy's C API, the kernel);
* ``declined``   the entry point given an input it declines (a Fortran- or
                 wrongly typed array): the call plus the C checks, no work;
* ``method``     an empty Python method with the same arguments: the cost of
                 a method call and its attribute lookups;
* ``kernel``     the memoryview kernel on preallocated 1-D buffers (the
                 0.1.0 path's kernel call, with its buffer acquisition); for
                 Affine the products through np.dot, as the 0.1.0 path ran
                 them (backward: dW by BLAS, which the entry point now forms
                 itself at N = 1).

So ``layer - entry`` is the Python method's share, ``entry - declined`` the
allocation and arithmetic, ``declined - method`` the C checks.  Run:
``python benchmarks/bench_call_path.py [--samples 25]``.
"""
from __future__ import annotations

import argparse
import platform

import numpy as np
from threadpoolctl import threadpool_limits

import zk_layers as zk
from zk_layers import baseline
from zk_layers._kernels import KERNELS
from zk_layers._threads import GRAINS
from zk_layers.bench import compare


class _Empty:
    def call(self, a: object, b: object = None) -> object:
        return a


def rows(samples: int) -> list[tuple[str, dict[str, float]]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 50))
    xf = np.asfortranarray(rng.standard_normal((2, 50)))
    dout = rng.standard_normal((1, 50))
    scores, labels = rng.standard_normal((1, 10)), np.array([3])
    W, b = rng.standard_normal((784, 50)), np.zeros(50)
    xa = rng.standard_normal((1, 784))
    empty = _Empty()
    out, mask = np.empty(50), np.empty(50, np.bool_)
    y, losses = np.empty((1, 10)), np.empty(1)

    relu, relu_book = zk.Relu(), baseline.Relu()
    sig, sig_book = zk.Sigmoid(), baseline.Sigmoid()
    loss, loss_book = zk.SoftmaxWithLoss(), baseline.SoftmaxWithLoss()
    aff, aff_book = zk.Affine(W, b), baseline.Affine(W, b)
    table = {
        "Relu.forward": {
            "layer": lambda: relu.forward(x),
            "book": lambda: relu_book.forward(x),
            "entry": lambda: KERNELS.relu_forward_call(x, GRAINS.elementwise),
            "declined": lambda: KERNELS.relu_forward_call(xf, GRAINS.elementwise),
            "method": lambda: empty.call(x),
            "kernel": lambda: KERNELS.relu_forward[1](x.ravel(), out, mask, 1),
        },
        "Sigmoid.forward": {
            "layer": lambda: sig.forward(x),
            "book": lambda: sig_book.forward(x),
            "entry": lambda: KERNELS.sigmoid_forward_call(x, GRAINS.exp),
            "declined": lambda: KERNELS.sigmoid_forward_call(xf, GRAINS.exp),
            "method": lambda: empty.call(x),
            "kernel": lambda: KERNELS.sigmoid_forward[1](x.ravel(), out, 1),
        },
        "SoftmaxWithLoss.forward": {
            "layer": lambda: loss.forward(scores, labels),
            "book": lambda: loss_book.forward(scores, labels),
            "entry": lambda: KERNELS.softmax_cross_entropy_forward_call(scores, labels, 1e-7, GRAINS.rowwise),
            "declined": lambda: KERNELS.softmax_cross_entropy_forward_call(xf, labels, 1e-7, GRAINS.rowwise),
            "method": lambda: empty.call(scores, labels),
            "kernel": lambda: KERNELS.softmax_cross_entropy_forward[1](scores, labels, y, losses, 1e-7, 1),
        },
        "Affine.forward": {
            "layer": lambda: aff.forward(xa),
            "book": lambda: aff_book.forward(xa),
            "entry": lambda: KERNELS.affine_forward_call(xa, W, b, GRAINS.elementwise),
            "declined": lambda: KERNELS.affine_forward_call(xf, W, b, GRAINS.elementwise),
            "method": lambda: empty.call(xa),
            "kernel": lambda: np.dot(xa, W),
        },
    }
    relu.forward(x)
    sig.forward(x)
    dout_book = dout.copy()
    table["Relu.backward"] = {
        "layer": lambda: relu.backward(dout),
        # The book's backward writes into dout (dout[mask] = 0): its own copy,
        # made once, so no copy is timed on the book's side.
        "book": lambda: relu_book.backward(dout_book),
        "entry": lambda: KERNELS.relu_backward_call(dout, relu.mask, GRAINS.elementwise),
        "declined": lambda: KERNELS.relu_backward_call(xf, relu.mask, GRAINS.elementwise),
        "method": lambda: empty.call(dout),
        "kernel": lambda: KERNELS.relu_backward[1](dout.ravel(), mask, out, 1),
    }
    relu_book.forward(x)
    sig_book.forward(x)
    table["Sigmoid.backward"] = {
        "layer": lambda: sig.backward(dout),
        "book": lambda: sig_book.backward(dout),
        "entry": lambda: KERNELS.sigmoid_backward_call(dout, sig.out, GRAINS.elementwise),
        "declined": lambda: KERNELS.sigmoid_backward_call(xf, sig.out, GRAINS.elementwise),
        "method": lambda: empty.call(dout),
        "kernel": lambda: KERNELS.sigmoid_backward[1](dout.ravel(), out, out, 1),
    }
    loss.forward(scores, labels)
    loss_book.forward(scores, labels)
    own_labels, dx = labels.astype(np.intp), np.empty((1, 10))
    table["SoftmaxWithLoss.backward"] = {
        "layer": lambda: loss.backward(),
        "book": lambda: loss_book.backward(),
        "entry": lambda: KERNELS.softmax_cross_entropy_backward_call(loss.y, loss._labels, 1, loss._y_shape,
                                                                     GRAINS.elementwise),
        "declined": lambda: KERNELS.softmax_cross_entropy_backward_call(loss.y, loss._labels, np.float64(1.0),
                                                                        loss._y_shape, GRAINS.elementwise),
        "method": lambda: empty.call(1),
        "kernel": lambda: KERNELS.softmax_cross_entropy_backward[1](loss.y, own_labels, 1.0, dx, 1),
    }
    aff.forward(xa)
    aff_book.forward(xa)
    table["Affine.backward"] = {
        "layer": lambda: aff.backward(dout),
        "book": lambda: aff_book.backward(dout),
        "entry": lambda: KERNELS.affine_backward_call(dout, xa, W, b, True, GRAINS.elementwise),
        "declined": lambda: KERNELS.affine_backward_call(xf, xa, W, b, True, GRAINS.elementwise),
        "method": lambda: empty.call(dout),
        "kernel": lambda: (np.dot(xa.T, dout), np.dot(dout, W.T), dout.sum(axis=0)),
    }
    result = []
    with threadpool_limits(1), zk.limit_threads(1):
        for name, cases in table.items():
            timed = compare(cases, samples, 0.01)
            result.append((name, {k: v[0] * 1e6 for k, v in timed.items()}))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=25)
    args = parser.parse_args()
    print(f"zk_layers {zk.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}, "
          f"kernels {KERNELS.level}; 1 thread; medians of {args.samples} interleaved samples, microseconds")
    columns = ("layer", "book", "entry", "declined", "method", "kernel")
    print("| call (N = 1) | " + " | ".join(columns) + " | book / layer |")
    print("|---" * (len(columns) + 2) + "|")
    for name, times in rows(args.samples):
        cells = " | ".join(f"{times[c]:.3f}" for c in columns)
        print(f"| {name} | {cells} | {times['book'] / times['layer']:.2f}x |")


if __name__ == "__main__":
    main()
