"""The book's DeepConvNet step (gradient + Adam, batch 100), interleaved, and
each convolution's time against its own matrix products.

Contenders, all in one process, the same batches, the same thread budget
(BLAS included, through threadpoolctl; one thread: the process pinned to
one core):

* book           the book's ch08/deep_convnet.py on its own common/ and its
                 Adam ($ZK_LAYERS_BOOK_DIR; float64 weights, float32 images);
* zk_layers.book the book's net as `zk-layers book run ch08/train_deepnet.py`
                 runs it: zk_layers.book.deep_convnet and zk_layers.book's Adam;
* zk             zk.DeepConvNet + zk.Adam, float64 weights, float32 images;
* zk float32     zk.DeepConvNet(dtype=float32): float32 throughout;
* torch f64/f32  PyTorch eager, the same net (dropout included),
                 F.cross_entropy, torch.optim.Adam (if PyTorch imports).

Each sample is one step; medians and IQR.  Before timing, the gradients of
one batch under one seed are compared with the book's (max |diff| / max
|book| over each parameter).  ``--layers`` adds the per-layer table: each
Convolution's forward and backward (dW, db, dx) in zk_layers.book's net
against the BLAS products it calls, timed alone on the same shapes.

    ZK_LAYERS_BOOK_DIR=... PYTHONPATH=. python benchmarks/bench_deepconvnet.py \
        --threads 1,2 --samples 15 --layers --markdown FILE
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import statistics
import sys
import time
from functools import partial

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import zk_layers as zk
from zk_layers.bench import cpu_model
from zk_layers.book import optimizer as book_optimizer
from zk_layers.book.deep_convnet import DeepConvNet as ServedNet

BATCH = 100


def _data():
    directory = os.environ.get("ZK_LAYERS_MNIST_DIR")
    if directory:
        (x, t), _ = zk.load_mnist(directory, normalize=True, flatten=False)
        return x.astype(np.float32), t, "MNIST"
    rng = np.random.default_rng(0)
    return rng.random((2000, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 2000), "random 28x28"


def _book_modules():
    """The book's DeepConvNet and Adam from its checkout, on its own common/."""
    book = os.environ.get("ZK_LAYERS_BOOK_DIR")
    if not book:
        raise SystemExit("set ZK_LAYERS_BOOK_DIR to a checkout of the book (deep-learning-from-scratch)")
    sys.path[:0] = [os.path.join(book, "ch08"), book]
    try:
        net = importlib.import_module("deep_convnet")
        opt = importlib.import_module("common.optimizer")
    finally:
        del sys.path[:2]
    return net.DeepConvNet, opt.Adam


def _torch():
    try:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch
        return torch
    except ImportError:
        return None


def _torch_step(torch, dtype, seed):
    torch.manual_seed(seed)
    dt = torch.float64 if dtype == np.float64 else torch.float32
    nn = torch.nn

    def conv(c_in, c_out, pad):
        return [nn.Conv2d(c_in, c_out, 3, padding=pad), nn.ReLU()]

    model = nn.Sequential(
        *conv(1, 16, 1), *conv(16, 16, 1), nn.MaxPool2d(2),
        *conv(16, 32, 1), *conv(32, 32, 2), nn.MaxPool2d(2),
        *conv(32, 64, 1), *conv(64, 64, 1), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(1024, 50), nn.ReLU(), nn.Dropout(0.5), nn.Linear(50, 10), nn.Dropout(0.5)).to(dt)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)

    def step(x, t):
        xt = torch.from_numpy(x).to(dt)
        tt = torch.from_numpy(t.astype(np.int64))
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(xt), tt)
        loss.backward()
        optimizer.step()
    return step


def contenders(BookNet, BookAdam, use_torch):
    np.random.seed(0)  # noqa: NPY002 - the book's global generator
    book, book_opt = BookNet(), BookAdam()
    np.random.seed(0)  # noqa: NPY002
    served, served_opt = ServedNet(), book_optimizer.Adam()
    ours, ours_opt = zk.DeepConvNet(rng=np.random.RandomState(0)), zk.Adam()
    ours32, ours32_opt = zk.DeepConvNet(dtype=np.float32, rng=np.random.RandomState(0)), zk.Adam()
    cases = {
        "book": lambda x, t: book_opt.update(book.params, book.gradient(x, t)),
        "zk_layers.book": lambda x, t: served_opt.update(served.params, served.gradient(x, t)),
        "zk": lambda x, t: ours_opt.update(ours.params, ours.gradient(x, t)),
        "zk float32": lambda x, t: ours32_opt.update(ours32.params, ours32.gradient(x, t)),
    }
    torch = _torch() if use_torch else None
    if torch is not None:
        cases["torch float64"] = _torch_step(torch, np.float64, 0)
        cases["torch float32"] = _torch_step(torch, np.float32, 0)
    return cases, torch, served


def gradient_agreement(BookNet, x, t):
    """Worst max |diff| / max |book| over the parameters, one seed for the
    weights and one for the Dropout masks."""
    grads = {}
    for name, make in (("book", BookNet), ("zk_layers.book", ServedNet), ("zk", zk.DeepConvNet)):
        np.random.seed(1)  # noqa: NPY002
        net = make()
        np.random.seed(2)  # noqa: NPY002
        grads[name] = net.gradient(x, t)
    book = grads.pop("book")
    return {name: max(float(np.max(np.abs(g[k] - book[k])) / np.max(np.abs(book[k]))) for k in book)
            for name, g in grads.items()}


def _timed(fn, repeats):
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def layer_table(net, x, repeats):
    """Each Convolution of ``net`` (zk_layers.book's, float64 weights): its
    forward and backward, and the products it calls on the same shapes."""
    outputs = [x]
    for layer in net.layers:
        outputs.append(layer.forward(outputs[-1], True) if type(layer).__name__ == "Dropout"
                       else layer.forward(outputs[-1]))
    rng = np.random.default_rng(0)
    rows, memory = [], []
    total = {"forward": 0.0, "backward": 0.0, "products": 0.0, "layers": 0.0}
    for i, layer in enumerate(net.layers):
        name = type(layer).__name__
        inp = outputs[i]
        dout = rng.standard_normal(outputs[i + 1].shape)
        run_forward = partial(layer.forward, inp, True) if name == "Dropout" else partial(layer.forward, inp)
        forward = _timed(run_forward, repeats)
        run_forward()
        backward = _timed(partial(layer.backward, dout), repeats)
        total["layers"] += forward + backward
        if name in ("Pooling", "Relu") and i < 15:
            # Bytes each pass must move: forward reads x and writes the output
            # (Pooling also its int32 window indices); backward reads dout (and
            # the indices or the mask) and writes dx.
            moved_in, moved_out = inp.nbytes, outputs[i + 1].nbytes
            index = outputs[i + 1].size * 4 if name == "Pooling" else inp.size
            memory.append((i, name, inp.shape, forward, backward,
                           (moved_in + moved_out + index) / forward / 1e9,
                           (moved_out + index + moved_in) / backward / 1e9))
            continue
        if name != "Convolution":
            continue
        N, C = inp.shape[:2]
        FN, _, FH, FW = layer.W.shape
        K, P = C * FH * FW, outputs[i + 1].shape[2] * outputs[i + 1].shape[3]
        W = layer.W.reshape(FN, K)
        W_t = np.ascontiguousarray(W.T)
        patches = rng.random((N, K, P))
        d3 = dout.reshape(N, FN, P)
        out, products, dpatches = np.empty((N, FN, P)), np.empty((N, FN, K)), np.empty((N, K, P))
        p_forward = _timed(partial(np.matmul, W, patches, out=out), repeats)
        p_dw = _timed(partial(np.matmul, d3, patches.transpose(0, 2, 1), out=products), repeats)
        p_dx = _timed(partial(np.matmul, W_t, d3, out=dpatches), repeats) if layer.need_dx else 0.0
        flop = 2 * N * P * K * FN
        rows.append((i, K, P, FN, forward, backward, p_forward, p_dw + p_dx, flop * (3 if layer.need_dx else 2)))
        total["forward"] += forward
        total["backward"] += backward
        total["products"] += p_forward + p_dw + p_dx
    return rows, memory, total


def measure(cases, x_all, t_all, threads, samples, torch):
    rng = np.random.default_rng(123)
    times = {name: [] for name in cases}
    affinity = os.sched_getaffinity(0)
    if threads == 1:
        os.sched_setaffinity(0, {min(affinity)})
    try:
        with threadpool_limits(threads), zk.limit_threads(threads):
            if torch is not None:
                torch.set_num_threads(threads)
            for _ in range(2):  # warm-up
                idx = rng.choice(len(x_all), BATCH)
                for fn in cases.values():
                    fn(x_all[idx], t_all[idx])
            gc.disable()
            try:
                for _ in range(samples):
                    idx = rng.choice(len(x_all), BATCH)
                    x, t = x_all[idx], t_all[idx]
                    for name, fn in cases.items():
                        start = time.perf_counter()
                        fn(x, t)
                        times[name].append(time.perf_counter() - start)
            finally:
                gc.enable()
    finally:
        os.sched_setaffinity(0, affinity)
    return {name: (statistics.median(v), *np.percentile(v, [25, 75])) for name, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--layers", action="store_true", help="add the per-layer table (one thread, pinned)")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    BookNet, BookAdam = _book_modules()
    x_all, t_all, data = _data()
    cases, torch, served = contenders(BookNet, BookAdam, not args.no_torch)
    agreement = gradient_agreement(BookNet, x_all[:BATCH], t_all[:BATCH])
    blas = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})" for i in threadpool_info()
            if i["user_api"] == "blas"]
    lines = [
        "# The book's DeepConvNet step: gradient + Adam, batch 100",
        "",
        f"Machine: `{cpu_model()}`, {len(os.sched_getaffinity(0))} usable CPUs, {platform.platform()}; "
        f"BLAS: {', '.join(blas)}; zk_layers {zk.__version__}, kernels {zk._kernels.KERNELS.level}; "
        f"NumPy {np.__version__}" + (f"; PyTorch {torch.__version__} (CPU)" if torch is not None else "") + ".",
        f"Data: {data}, float32 images as the book's loader gives them; weights float64 (the book's) "
        "unless the row says float32.",
        f"One process, contenders interleaved, {args.samples} samples of one step each after 2 warm-up "
        "steps, gc off; the same thread budget for all, BLAS included (threadpoolctl); one thread: the "
        "process pinned to one core.",
        "",
        "Gradients against the book's (max |diff| / max |book| over each parameter, worst; one seed): "
        + ", ".join(f"{name} {value:.1e}" for name, value in agreement.items()) + ".",
        "",
        "| threads | contender | median ms | IQR ms | book / this |",
        "|---|---|---|---|---|",
    ]
    per_thread = {}
    for threads in [int(n) for n in args.threads.split(",")]:
        result = measure(cases, x_all, t_all, threads, args.samples, torch)
        per_thread[threads] = result
        book = result["book"][0]
        for name, (median, q1, q3) in result.items():
            lines.append(f"| {threads} | {name} | {median * 1e3:.1f} | {q1 * 1e3:.1f}-{q3 * 1e3:.1f} | "
                         f"{book / median:.2f}x |")
    if 1 in per_thread and 2 in per_thread:
        lines.append("")
        for name in ("book", "zk_layers.book", "zk", "zk float32"):
            lines.append(f"- {name}: 2 threads {per_thread[1][name][0] / per_thread[2][name][0]:.2f}x "
                         "the speed of 1 thread")
    if args.layers:
        affinity = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(affinity)})
        try:
            with threadpool_limits(1), zk.limit_threads(1):
                rows, memory, total = layer_table(served, x_all[:BATCH], max(args.samples, 9))
        finally:
            os.sched_setaffinity(0, affinity)
        lines += [
            "",
            "Each Convolution of zk_layers.book's net, one thread, pinned, medians; its products timed "
            "alone on the same shapes in the layer's layout (forward `W @ patches[n]`; backward "
            "`dout[n] @ patches[n].T` and, except the first layer, `W.T @ dout[n]`, all 100 images "
            "through `np.matmul`):",
            "",
            "| layer | K | P | FN | forward ms | its product ms | backward ms | its products ms | "
            "layer GFLOP/s | products GFLOP/s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for i, K, P, FN, forward, backward, p_forward, p_backward, flop in rows:
            lines.append(f"| {i} | {K} | {P} | {FN} | {forward * 1e3:.2f} | {p_forward * 1e3:.2f} | "
                         f"{backward * 1e3:.2f} | {p_backward * 1e3:.2f} | {flop / (forward + backward) / 1e9:.1f} | "
                         f"{flop / (p_forward + p_backward) / 1e9:.1f} |")
        lines += ["", "Pooling and Relu (fresh outputs; the fast nets' Relus work in place), what each pass "
                  "moves per second (bytes read and written, Pooling's int32 indices and Relu's mask included):",
                  "", "| layer | input | forward ms | GB/s | backward ms | GB/s |", "|---|---|---|---|---|---|"]
        for i, name, shape, forward, backward, rate_f, rate_b in memory:
            lines.append(f"| {i} {name} | {'x'.join(map(str, shape))} | {forward * 1e3:.2f} | {rate_f:.1f} | "
                         f"{backward * 1e3:.2f} | {rate_b:.1f} |")
        conv = total["forward"] + total["backward"]
        lines += ["", f"Convolutions: {conv * 1e3:.1f} ms (forward {total['forward'] * 1e3:.1f}, backward "
                  f"{total['backward'] * 1e3:.1f}), of which their products alone {total['products'] * 1e3:.1f} ms; "
                  f"all 20 layers forward + backward {total['layers'] * 1e3:.1f} ms."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
