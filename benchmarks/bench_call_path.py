"""Where the time of one small layer call goes (the one-call path).

For Relu, Sigmoid, SoftmaxWithLoss and Affine at N = 1 (50 elements, 10
classes, 784 -> 50), one thread, this times, interleaved:

* ``layer``      the public method, as a user calls it;
* ``book``       the book's plain code for the same call (zk_layers.baseline);
* ``entry``      the compiled one-call entry point alone (checks in C,
                 allocation through NumPy's C API, the kernel);
* ``declined``   the entry point given an input it declines (a strided or
                 Fortran-ordered array): the call plus the C checks, no work;
* ``method``     an empty Python method with the same arguments: the cost of
                 a method call and its attribute lookups;
* ``kernel``     the entry point given preallocated outputs (Relu, Sigmoid,
                 the softmax forward's y; the softmax backward: the intp
                 labels of the general path); for
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
from zk_layers import _activations, _affine, _softmax_loss, baseline
from zk_layers._kernels import KERNELS
from zk_layers.bench import compare


class _Empty:
    def call(self, a: object, b: object = None) -> object:
        return a


def rows(samples: int) -> list[tuple[str, dict[str, float]]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 50))
    xf = np.asfortranarray(rng.standard_normal((2, 50)))
    xs = rng.standard_normal((1, 100))[:, ::2]  # strided: declined by the elementwise entry points
    dout = rng.standard_normal((1, 50))
    scores, labels = rng.standard_normal((1, 10)), np.array([3])
    W, b = rng.standard_normal((784, 50)), np.zeros(50)
    xa = rng.standard_normal((1, 784))
    empty = _Empty()
    out, mask = np.empty(50), np.empty(50, np.bool_)
    y = np.empty((1, 10))

    relu, relu_book = zk.Relu(), baseline.Relu()
    sig, sig_book = zk.Sigmoid(), baseline.Sigmoid()
    loss, loss_book = zk.SoftmaxWithLoss(), baseline.SoftmaxWithLoss()
    aff, aff_book = zk.Affine(W, b), baseline.Affine(W, b)
    table = {
        "Relu.forward": {
            "layer": lambda: relu.forward(x),
            "book": lambda: relu_book.forward(x),
            "entry": lambda: _activations.relu_forward(x),
            "declined": lambda: _activations.relu_forward(xs),
            "method": lambda: empty.call(x),
            "kernel": lambda: _activations.relu_forward(x.ravel(), out, mask),
        },
        "Sigmoid.forward": {
            "layer": lambda: sig.forward(x),
            "book": lambda: sig_book.forward(x),
            "entry": lambda: _activations.sigmoid_forward(x),
            "declined": lambda: _activations.sigmoid_forward(xs),
            "method": lambda: empty.call(x),
            "kernel": lambda: _activations.sigmoid_forward(x.ravel(), out),
        },
        "SoftmaxWithLoss.forward": {
            "layer": lambda: loss.forward(scores, labels),
            "book": lambda: loss_book.forward(scores, labels),
            "entry": lambda: _softmax_loss.softmax_loss_forward(scores, labels, 1e-7),
            "declined": lambda: _softmax_loss.softmax_loss_forward(xf, labels, 1e-7),
            "method": lambda: empty.call(scores, labels),
            "kernel": lambda: _softmax_loss.softmax_loss_forward(scores, labels, 1e-7, y),
        },
        "Affine.forward": {
            "layer": lambda: aff.forward(xa),
            "book": lambda: aff_book.forward(xa),
            "entry": lambda: _affine.affine_forward(xa, W, b),
            "declined": lambda: _affine.affine_forward(xf, W, b),
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
        "entry": lambda: _activations.relu_backward(dout, relu.mask),
        "declined": lambda: _activations.relu_backward(xs, relu.mask),
        "method": lambda: empty.call(dout),
        "kernel": lambda: _activations.relu_backward(dout.ravel(), mask, out),
    }
    relu_book.forward(x)
    sig_book.forward(x)
    table["Sigmoid.backward"] = {
        "layer": lambda: sig.backward(dout),
        "book": lambda: sig_book.backward(dout),
        "entry": lambda: _activations.sigmoid_backward(dout, sig.out),
        "declined": lambda: _activations.sigmoid_backward(xs, sig.out),
        "method": lambda: empty.call(dout),
        "kernel": lambda: _activations.sigmoid_backward(dout.ravel(), out, out),
    }
    loss.forward(scores, labels)
    loss_book.forward(scores, labels)
    own_labels = labels.astype(np.intp)
    table["SoftmaxWithLoss.backward"] = {
        "layer": lambda: loss.backward(),
        "book": lambda: loss_book.backward(),
        "entry": lambda: _softmax_loss.softmax_loss_backward(loss.y, loss._labels, 1, loss._y_shape),
        "declined": lambda: _softmax_loss.softmax_loss_backward(loss.y, loss._labels, np.float64(1.0), loss._y_shape),
        "method": lambda: empty.call(1),
        "kernel": lambda: _softmax_loss.softmax_loss_backward(loss.y, own_labels, 1.0, loss._y_shape),
    }
    aff.forward(xa)
    aff_book.forward(xa)
    table["Affine.backward"] = {
        "layer": lambda: aff.backward(dout),
        "book": lambda: aff_book.backward(dout),
        "entry": lambda: _affine.affine_backward(dout, xa, W, b, True),
        "declined": lambda: _affine.affine_backward(xf, xa, W, b, True),
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
