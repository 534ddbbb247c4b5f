"""Golden outputs: a SHA-256 of the bytes of every result of every layer,
optimizer and net, in both dtypes, at 1 and 2 threads, for each kernel
build this CPU runs.

A refactoring of the compiled core must not change one bit.  Record the
hashes before it, and check them after:

    python scripts/golden.py --write benchmarks/results/epyc-2vcpu-golden.json
    python scripts/golden.py --check benchmarks/results/epyc-2vcpu-golden.json

Each (build, threads) pair runs in its own interpreter (``ZK_LAYERS_KERNELS``
is read at import).  The hashes hold on one machine: another CPU can run
another BLAS kernel, whose products round differently, and OpenBLAS rounds
its threaded products differently from its one-thread ones, so the file
names the machine and BLAS it was recorded on, and each thread count has
its own hashes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

DTYPES = ("float32", "float64")
THREADS = (1, 2)


def _digest(value: Any) -> str:
    h = hashlib.sha256()
    for item in value if isinstance(value, (tuple, list)) else (value,):
        if item is None:
            h.update(b"None")
            continue
        arr = np.asarray(item)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _cases(zk: Any, dtype: np.dtype) -> Iterator[tuple[str, Callable[[], Any]]]:
    """(name, a call returning the arrays to hash); every input drawn from a fixed seed."""
    def rng() -> np.random.Generator:
        return np.random.default_rng(20261204)

    def normal(r: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
        return (r.standard_normal(shape) * scale).astype(dtype)

    for n, h in ((1, 50), (100, 50), (1000, 1000), (512, 4096)):  # small and past every grain
        def elementwise(cls: Any = None, n: int = n, h: int = h) -> Any:
            r = rng()
            x, dout = normal(r, n, h), normal(r, n, h)
            x[0, :3] = (0.0, -0.0, np.nan)
            layer = cls()
            y = layer.forward(x)
            return y, layer.backward(dout)
        yield f"Relu {n}x{h}", lambda e=elementwise: e(zk.Relu)
        yield f"Sigmoid {n}x{h}", lambda e=elementwise: e(zk.Sigmoid)

    for n, d, m in ((1, 784, 50), (100, 784, 50), (1000, 784, 1000)):
        def affine(n: int = n, d: int = d, m: int = m) -> Any:
            r = rng()
            W, b, x, dout = normal(r, d, m, scale=0.01), normal(r, m), normal(r, n, d), normal(r, n, m)
            layer = zk.Affine(W, b)
            y = layer.forward(x)
            dx = layer.backward(dout)
            return y, dx, layer.dW, layer.db
        yield f"Affine {n}x{d}x{m}", affine

    for n, c in ((1, 10), (100, 10), (8192, 1000)):
        def softmax(n: int = n, c: int = c) -> Any:
            r = rng()
            x, t = normal(r, n, c, scale=3.0), r.integers(0, c, n)
            layer = zk.SoftmaxWithLoss()
            loss = layer.forward(x, t)
            return np.float64(loss), layer.y, layer.backward()
        yield f"SoftmaxWithLoss {n}x{c}", softmax

    for n, stride, pad in ((2, 1, 0), (100, 1, 0), (10, 2, 1)):
        def conv(n: int = n, stride: int = stride, pad: int = pad) -> Any:
            r = rng()
            W, b, x = normal(r, 30, 1, 5, 5, scale=0.01), normal(r, 30), normal(r, n, 1, 28, 28)
            layer = zk.Convolution(W, b, stride, pad)
            y = layer.forward(x)
            dx = layer.backward(normal(r, *y.shape))
            return y, dx, layer.dW, layer.db, layer.col
        yield f"Convolution n{n} s{stride} p{pad}", conv

        def pool(n: int = n, stride: int = stride, pad: int = pad) -> Any:
            r = rng()
            layer = zk.Pooling(2, 2, stride + 1, pad)
            y = layer.forward(normal(r, n, 30, 24, 24))
            return y, layer.backward(normal(r, *y.shape)), layer.arg_max
        yield f"Pooling n{n} s{stride + 1} p{pad}", pool

        def cols(n: int = n, stride: int = stride, pad: int = pad) -> Any:
            r = rng()
            x = normal(r, n, 3, 12, 12)
            col = zk.im2col(x, 3, 3, stride, pad)
            return col, zk.col2im(col, x.shape, 3, 3, stride, pad)
        yield f"im2col/col2im n{n} s{stride} p{pad}", cols

    for n, d in ((1, 20), (100, 100), (4000, 784)):
        def batchnorm(n: int = n, d: int = d) -> Any:
            r = rng()
            layer = zk.BatchNormalization(normal(r, d) + 1, normal(r, d))
            y = layer.forward(normal(r, n, d))
            dx = layer.backward(normal(r, n, d))
            test = layer.forward(normal(r, n, d), train_flg=False)
            return y, dx, layer.dgamma, layer.dbeta, layer.running_mean, layer.running_var, test
        yield f"BatchNormalization {n}x{d}", batchnorm

        def dropout(n: int = n, d: int = d) -> Any:
            r = rng()
            np.random.seed(0)  # noqa: NPY002 (the layer draws from the book's generator)
            layer = zk.Dropout(0.3)
            y = layer.forward(normal(r, n, d))
            return y, layer.backward(normal(r, n, d)), layer.forward(normal(r, n, d), train_flg=False)
        yield f"Dropout {n}x{d}", dropout

    for name in ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"):
        def update(name: str = name) -> Any:
            r = rng()
            params = {"W": normal(r, 784, 50), "b": normal(r, 50), "big": normal(r, 1000, 1000)}
            opt = getattr(zk, name)()
            for _ in range(3):
                opt.update(params, {key: normal(r, *value.shape) for key, value in params.items()})
            return tuple(params[key] for key in sorted(params))
        yield f"{name}.update", update

    def two_layer() -> Any:
        r = rng()
        net = zk.TwoLayerNet(784, 50, 10, seed=0, dtype=dtype)
        x, t = normal(r, 100, 784), r.integers(0, 10, 100)
        grads = net.gradient(x, t)
        return tuple(grads[key] for key in sorted(grads)) + (np.float64(net.loss(x, t)),)
    yield "TwoLayerNet.gradient", two_layer

    def multi_layer() -> Any:
        r = rng()
        np.random.seed(0)  # noqa: NPY002 (the book's draws)
        net = zk.MultiLayerNetExtend(784, [100, 100], 10, use_dropout=True, use_batchnorm=True,
                                     weight_decay_lambda=0.1, dtype=dtype)
        x, t = normal(r, 100, 784), r.integers(0, 10, 100)
        grads = net.gradient(x, t)
        return tuple(grads[key] for key in sorted(grads))
    yield "MultiLayerNetExtend.gradient", multi_layer

    def convnet() -> Any:
        r = rng()
        np.random.seed(0)  # noqa: NPY002 (the book's draws)
        net = zk.SimpleConvNet(dtype=dtype)
        x, t = normal(r, 20, 1, 28, 28), r.integers(0, 10, 20)
        grads = net.gradient(x, t)
        return tuple(grads[key] for key in sorted(grads))
    yield "SimpleConvNet.gradient", convnet


def record() -> dict[str, str]:
    """The hashes of this interpreter's build and thread count (set by the parent)."""
    import zk_layers as zk

    out = {}
    for dtype in DTYPES:
        for name, call in _cases(zk, np.dtype(dtype)):
            out[f"{name} {dtype}"] = _digest(call())
    return out


def _child(build: str, threads: int) -> dict[str, str]:
    env = dict(os.environ, ZK_LAYERS_KERNELS=build, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"golden: {build} at {threads} thread(s) failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def machine() -> dict[str, Any]:
    from zk_layers._config import config_info
    from zk_layers.bench import cpu_model

    info = config_info()
    return {"cpu": cpu_model(), "platform": info["platform"], "zk_layers": info["zk_layers"], "numpy": info["numpy"],
            "kernels_available": info["kernels_available"],
            "blas": [{k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                     for lib in info["blas"]],
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="FILE")
    mode.add_argument("--check", metavar="FILE")
    mode.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        json.dump(record(), sys.stdout)
        return 0
    runs: dict[str, dict[str, str]] = {}
    for build in machine()["kernels_available"]:  # the builds this CPU runs
        for threads in THREADS:
            runs[f"{build} {threads}"] = hashes = _child(build, threads)
            print(f"golden: {build} at {threads} thread(s): {len(hashes)} cases", file=sys.stderr)
    # Cross-build identity: every build gives the bits of the baseline build.
    for threads in THREADS:
        base = runs.get(f"baseline {threads}")
        for key, hashes in runs.items():
            if base is not None and key.endswith(f" {threads}") and hashes != base:
                differ = sorted(name for name in base if hashes.get(name) != base[name])
                print(f"golden: {key} differs from the baseline build in {differ}", file=sys.stderr)
                return 1
    if args.write:
        with open(args.write, "w") as f:
            json.dump({"machine": machine(), "runs": runs}, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"golden: wrote {args.write}", file=sys.stderr)
        return 0
    with open(args.check) as f:
        recorded = json.load(f)["runs"]
    bad = [(key, name) for key, hashes in recorded.items() if key in runs
           for name, digest in hashes.items() if runs[key].get(name) != digest]
    missing = sorted(set(recorded) - set(runs))
    for key, name in bad:
        print(f"golden: {key}: {name} changed", file=sys.stderr)
    if missing:
        print(f"golden: not run here: {missing}", file=sys.stderr)
    print(f"golden: {sum(len(h) for h in runs.values())} hashes compared, {len(bad)} changed", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
