"""The book's SimpleConvNet step (gradient + Adam, batch 100), interleaved.

Contenders, all in one process, the same batches, the same thread budget
(BLAS included, through threadpoolctl):

* book           zk_layers.baseline.SimpleConvNet + baseline.Adam: the book's
                 code (float64 weights, float32 images from its loader);
* book net, zk   the same net code with zk_layers' layers swapped in
                 (the layers `zk-layers book run` serves);
* book net, zk_layers.book
                 the same with zk_layers' Adam too: the book's code as
                 `zk-layers book run ch07/train_convnet.py` runs it (its
                 common.layers and common.optimizer are zk_layers');
* zk             zk.SimpleConvNet (Conv1 without dx) + zk.Adam, float64
                 weights, float32 images: the book's case;
* zk float32     zk.SimpleConvNet(dtype=float32);
* torch f64/f32  PyTorch eager, the same net, F.cross_entropy, torch.optim.Adam
                 (only if PyTorch imports; PYTHONPATH may point at it).

One-thread rows run with the process pinned to one core (os.sched_setaffinity).
Each sample is one step; medians and IQR of the samples; the gradients of
the first three are compared first (max relative difference per parameter).

    PYTHONPATH=. python benchmarks/bench_convnet.py --threads 1,2 --samples 40 \
        --markdown benchmarks/results/epyc-2vcpu-convnet.md
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import zk_layers as zk
from zk_layers import baseline
from zk_layers.bench import cpu_model, pinned_to_one_core

BATCH = 100


def _data():
    directory = os.environ.get("ZK_LAYERS_MNIST_DIR")
    if directory:
        (x, t), _ = zk.load_mnist(directory, normalize=True, flatten=False)
        return x.astype(np.float32), t, "MNIST"
    rng = np.random.default_rng(0)
    return rng.random((2000, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 2000), "random 28x28"


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
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 30, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(4320, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10)).to(dt)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
    loss_fn = torch.nn.functional.cross_entropy

    def step(x, t):
        xt = torch.from_numpy(x).to(dt)
        tt = torch.from_numpy(t.astype(np.int64))
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), tt)
        loss.backward()
        optimizer.step()
    return step


def contenders(use_torch):
    np.random.seed(0)  # noqa: NPY002 - the book's global generator
    book = baseline.SimpleConvNet()
    book_opt = baseline.Adam()
    np.random.seed(0)  # noqa: NPY002
    mixed = baseline.SimpleConvNet(layer_module=zk)
    mixed_opt = baseline.Adam()
    np.random.seed(0)  # noqa: NPY002
    served = baseline.SimpleConvNet(layer_module=zk)
    served_opt = zk.Adam()  # what zk_layers.book.optimizer is
    np.random.seed(0)  # noqa: NPY002
    ours = zk.SimpleConvNet()
    ours_opt = zk.Adam()
    np.random.seed(0)  # noqa: NPY002
    ours32 = zk.SimpleConvNet(dtype=np.float32)
    ours32_opt = zk.Adam()
    cases = {
        "book": lambda x, t: book_opt.update(book.params, book.gradient(x, t)),
        "book net, zk layers": lambda x, t: mixed_opt.update(mixed.params, mixed.gradient(x, t)),
        "book net, zk_layers.book": lambda x, t: served_opt.update(served.params, served.gradient(x, t)),
        "zk": lambda x, t: ours_opt.update(ours.params, ours.gradient(x, t)),
        "zk float32": lambda x, t: ours32_opt.update(ours32.params, ours32.gradient(x, t)),
    }
    torch = _torch() if use_torch else None
    if torch is not None:
        cases["torch float64"] = _torch_step(torch, np.float64, 0)
        cases["torch float32"] = _torch_step(torch, np.float32, 0)
    return cases, torch


def gradient_agreement(x, t):
    np.random.seed(1)  # noqa: NPY002
    book = baseline.SimpleConvNet()
    np.random.seed(1)  # noqa: NPY002
    ours = zk.SimpleConvNet()
    np.random.seed(1)  # noqa: NPY002
    mixed = baseline.SimpleConvNet(layer_module=zk)
    g_book, g_ours, g_mixed = book.gradient(x, t), ours.gradient(x, t), mixed.gradient(x, t)

    def worst(grads):
        return max(float(np.max(np.abs(grads[k] - g_book[k])) / np.max(np.abs(g_book[k]))) for k in g_book)
    return worst(g_ours), worst(g_mixed)


def measure(cases, x_all, t_all, threads, samples, torch):
    rng = np.random.default_rng(123)
    times = {name: [] for name in cases}
    with pinned_to_one_core(threads == 1), threadpool_limits(threads), zk.limit_threads(threads):
        if torch is not None:
            torch.set_num_threads(threads)
        for _ in range(3):  # warm-up
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
    return {name: (statistics.median(v), *np.percentile(v, [25, 75])) for name, v in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    x_all, t_all, data = _data()
    cases, torch = contenders(not args.no_torch)
    rel_ours, rel_mixed = gradient_agreement(x_all[:BATCH], t_all[:BATCH])
    blas = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})" for i in threadpool_info()
            if i["user_api"] == "blas"]
    lines = [
        "# The book's SimpleConvNet step: gradient + Adam, batch 100",
        "",
        f"Machine: `{cpu_model()}`, {len(os.sched_getaffinity(0))} usable CPUs, {platform.platform()}; "
        f"BLAS: {', '.join(blas)}; "
        f"zk_layers {zk.__version__}, kernels {zk._kernels.KERNELS.level}; NumPy {np.__version__}"
        + (f"; PyTorch {torch.__version__} (CPU)" if torch is not None else "") + ".",
        f"Data: {data}, float32 images as the book's loader gives them; weights float64 (the book's) "
        "unless the row says float32.",
        f"One process, contenders interleaved, {args.samples} samples of one step each after 3 warm-up "
        "steps, gc off; the same thread budget for all, BLAS included (threadpoolctl); one thread: the "
        "process pinned to one core.",
        "",
        f"Gradients against the book's (max |diff| / max |book| over each parameter, worst): "
        f"zk.SimpleConvNet {rel_ours:.1e}, book net on zk layers {rel_mixed:.1e}.",
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
        for name in ("zk", "zk float32", "book"):
            lines.append(f"- {name}: 2 threads {per_thread[1][name][0] / per_thread[2][name][0]:.2f}x "
                         "faster than 1 thread")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
