"""How much of each book step is its matrix products: the ceiling of a speed-up.

For the steps of issue-sized targets (the book's BetterRnnlm, AttentionSeq2seq,
SimpleConvNet and DeepConvNet, as ``bench_book2_time.py``,
``bench_convnet.py`` and ``bench_deepconvnet.py`` build them), each side's
step is timed together with the time its Python-level ``np.dot`` and
``np.matmul`` calls take (both replaced by timing wrappers for the run; the
time inside them: BLAS, NumPy's dispatch, fresh outputs).  The products that
zk_layers' compiled glue calls from C (Affine's ``x @ W``, ``dx`` and
``dW``) are not counted, which only lowers zk's figure, so

    ceiling = book step / zk product time

bounds the ratio zk_layers could reach with its products as it runs them now
and everything else taking no time at all.

One thread, the process pinned to one core; sides interleaved; medians of
the steps after two warm-up steps.  The convnets read MNIST from
``ZK_LAYERS_MNIST_DIR`` when it is set, else random images (their step
times do not depend on the values).

    ZK_LAYERS_BOOK_DIR=... ZK_LAYERS_BOOK2_DIR=... ZK_LAYERS_PTB_DIR=... \\
    PYTHONPATH=. python benchmarks/bench_product_share.py --markdown FILE
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the sibling benchmarks

import zk_layers as zk  # noqa: E402
from zk_layers.bench import cpu_model, pinned_to_one_core  # noqa: E402

_CLOCK = {"dot": 0.0, "matmul": 0.0}
_DATA = {"convnets": ""}


def _timed_product(product: Callable[..., Any], name: str) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return product(*args, **kwargs)
        finally:
            _CLOCK[name] += time.perf_counter() - start
    return timed


def _book2_sides(case: str, steps: int) -> tuple[dict[str, Callable[[int], Any]], int]:
    import bench_book2_time as b2
    from bench_book2 import _corpus

    book = os.environ.get("ZK_LAYERS_BOOK2_DIR")
    if not book:
        raise SystemExit("set ZK_LAYERS_BOOK2_DIR to a checkout of the second volume")
    corpus, _ = _corpus(os.environ.get("ZK_LAYERS_PTB_DIR"))
    return b2.sides(os.path.abspath(book), case, steps, corpus)


def _convnet_sides(case: str, steps: int) -> tuple[dict[str, Callable[[int], Any]], int]:
    rng = np.random.default_rng(123)
    if case == "simple-convnet":
        import bench_convnet as bc

        cases, _ = bc.contenders(False)
        x_all, t_all, _DATA["convnets"] = bc._data()
        chosen = {"book": cases["book"], "zk": cases["book net, zk_layers.book"]}
    else:
        import bench_deepconvnet as bd

        # The book's ch08 net imports common.layers: the first volume's, not
        # the second's that the cases above may have left in sys.modules.
        for name in [n for n in sys.modules if n == "common" or n.startswith("common.") or n == "deep_convnet"]:
            del sys.modules[name]
        book_net, book_adam = bd._book_modules()
        cases, _, _ = bd.contenders(book_net, book_adam, False)
        x_all, t_all, _DATA["convnets"] = bd._data()
        chosen = {"book": cases["book"], "zk": cases["zk_layers.book"], "zk float32": cases["zk float32"]}
    batches = [rng.choice(len(x_all), 100) for _ in range(steps)]

    def wrap(fn: Callable[[Any, Any], None]) -> Callable[[int], None]:
        return lambda i: fn(x_all[batches[i]], t_all[batches[i]])
    return {name: wrap(fn) for name, fn in chosen.items()}, steps


def measure(case: str, steps: int) -> dict[str, tuple[float, float, float]]:
    """Per side: the median step, and its median time in np.dot and in np.matmul."""
    sides, n = (_book2_sides if case in ("better-rnnlm", "attention-seq2seq") else _convnet_sides)(case, steps)
    step_times: dict[str, list[float]] = {name: [] for name in sides}
    dot_times: dict[str, list[float]] = {name: [] for name in sides}
    matmul_times: dict[str, list[float]] = {name: [] for name in sides}
    dot, matmul = np.dot, np.matmul
    np.dot, np.matmul = _timed_product(dot, "dot"), _timed_product(matmul, "matmul")
    gc.disable()
    try:
        with threadpool_limits(1), zk.limit_threads(1):
            for i in range(n):
                names = list(sides) if i % 2 == 0 else list(sides)[::-1]
                for name in names:
                    _CLOCK["dot"] = _CLOCK["matmul"] = 0.0
                    start = time.perf_counter()
                    sides[name](i)
                    step_times[name].append(time.perf_counter() - start)
                    dot_times[name].append(_CLOCK["dot"])
                    matmul_times[name].append(_CLOCK["matmul"])
    finally:
        np.dot, np.matmul = dot, matmul
        gc.enable()
    return {name: (statistics.median(step_times[name][2:]), statistics.median(dot_times[name][2:]),
                   statistics.median(matmul_times[name][2:])) for name in sides}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="better-rnnlm,attention-seq2seq,simple-convnet,deepconvnet")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--markdown")
    args = parser.parse_args()
    with pinned_to_one_core(True):
        blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
                for i in threadpool_info() if i.get("user_api") == "blas"]
        header = ["| step | side | step ms | in np.dot ms | in np.matmul ms | products ms | share | "
                  "book step / this side's products |", "|---|---|---|---|---|---|---|---|"]
        rows = []
        for case in args.cases.split(","):
            result = measure(case, args.steps)
            book_step = result["book"][0]
            for name, (step, in_dot, in_matmul) in result.items():
                products = in_dot + in_matmul
                ceiling = f"{book_step / products:.2f}x" if name != "book" and products > 0 else ""
                rows.append(f"| {case} | {name} | {step * 1e3:.1f} | {in_dot * 1e3:.1f} | {in_matmul * 1e3:.1f} | "
                            f"{products * 1e3:.1f} | {products / step:.0%} | {ceiling} |")
                print(rows[-1], flush=True)
        data = f" Convnet images: {_DATA['convnets']}." if _DATA["convnets"] else ""
        lines = ["# How much of each step is its matrix products", "",
                 f"{cpu_model()}, Python {platform.python_version()}, NumPy {np.__version__}, BLAS {', '.join(blas)}; "
                 f"one thread, pinned; sides interleaved, {args.steps} steps, the first 2 left out; medians.{data} "
                 "Products: the time in the step's Python-level np.dot and np.matmul calls (zk_layers' Affine "
                 "products, called from its compiled glue, not counted). Ceiling: the book's step over this "
                 "side's products.", "", *header, *rows]
        text = "\n".join(lines) + "\n"
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(text)
        print(text)


if __name__ == "__main__":
    main()
