"""The second volume's chapters 5-8: the book's models on both sides, interleaved.

* book  the book's model files (``ch06/better_rnnlm.py``,
        ``ch08/attention_seq2seq.py``, ...) on the book's own ``common`` and
        ``ch08/attention_layer.py`` (its checkout, unchanged);
* zk    the same model files on ``zk_layers.book2`` (what ``zk-layers book
        run`` serves).

Steps (one of the book's Trainer/RnnlmTrainer steps: ``forward``,
``backward``, ``remove_duplicate``, ``clip_grads``, ``update``):

* ``better-rnnlm``: ``BetterRnnlm(10000, 650, 650, 0.5)``, batch 20, time 35,
  clip 0.25, SGD lr 20, float32, as ``ch06/train_better_rnnlm.py``; batches
  of the PTB training corpus (``ZK_LAYERS_PTB_DIR``) or of a Zipf sample;
* ``rnnlm``: ``Rnnlm(10000, 100, 100)``, batch 20, time 35, clip 0.25, SGD 20
  (``ch06/train_rnnlm.py``);
* ``attention-seq2seq``: ``AttentionSeq2seq(V, 16, 256)`` on the book's
  date data set, batch 128, Adam, clip 5 (``ch08/train.py``);
* ``seq2seq``: ``PeekySeq2seq(V, 16, 128)`` on the addition data set, batch
  128, Adam, clip 5 (``ch07/train_seq2seq.py``).

Both sides start from the same seed (the same initial weights and dropout
masks) and take the same batches; their losses are compared step by step
(rtol 2e-4) before any time is reported.  One thread: BLAS and OpenMP
limited by threadpoolctl, the process pinned to one core (``--threads N``:
N of each, on N cores).

    ZK_LAYERS_BOOK2_DIR=../shared/books/deep-learning-from-scratch-2 \\
    ZK_LAYERS_PTB_DIR=../shared/data/ptb \\
    PYTHONPATH=. python benchmarks/bench_book2_time.py --markdown benchmarks/results/epyc-2vcpu-book2-time.md

``--lstm`` adds TimeLSTM forward+backward at the book's sizes against the
book's and PyTorch's ``nn.LSTM`` (when installed), float32, one thread.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np
from bench_book2 import _corpus  # the same corpus as the CBOW benchmark's (a sibling script)
from threadpoolctl import threadpool_info, threadpool_limits

from zk_layers.bench import cpu_model

SERVED = ("config", "np", "functions", "layers", "time_layers", "optimizer", "trainer", "util", "base_model")
CHAPTER_MODULES = ("ch06", "ch07", "ch08", "rnnlm", "better_rnnlm", "seq2seq", "peeky_seq2seq",
                   "attention_seq2seq", "attention_layer")


def _load(book: str, side: str, chapter: str, name: str) -> Any:
    """The book's ``<chapter>/<name>.py`` as a fresh module on one side's common."""
    for mod in [n for n in sys.modules if n == "common" or n.startswith("common.")
                or n.split(".")[0] in CHAPTER_MODULES]:
        del sys.modules[mod]
    if side == "zk":
        sys.modules["common"] = importlib.import_module("zk_layers.book2")
        for mod in SERVED:
            sys.modules[f"common.{mod}"] = importlib.import_module(f"zk_layers.book2.{mod}")
        attention = importlib.import_module("zk_layers.book2.attention_layer")
        sys.modules["ch08.attention_layer"] = sys.modules["attention_layer"] = attention
    for path in (book, os.path.join(book, "ch07")):
        if path not in sys.path:
            sys.path.insert(0, path)
    spec = importlib.util.spec_from_file_location(f"{name}_{side}", os.path.join(book, chapter, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"module": module, "trainer": importlib.import_module("common.trainer"),
            "optimizer": importlib.import_module("common.optimizer"),
            "util": importlib.import_module("common.util")}


def _lm_batches(corpus: np.ndarray, batch: int, time_size: int, steps: int) -> list[tuple[Any, Any]]:
    """RnnlmTrainer's batches: each row reads the corpus from its own offset."""
    xs, ts = corpus[:-1], corpus[1:]
    jump = (len(xs) - 1) // batch
    offsets = [i * jump for i in range(batch)]
    out = []
    t0 = 0
    for _ in range(steps):
        bx = np.empty((batch, time_size), dtype="i")
        bt = np.empty((batch, time_size), dtype="i")
        for t in range(time_size):
            for i, offset in enumerate(offsets):
                bx[i, t] = xs[(offset + t0) % len(xs)]
                bt[i, t] = ts[(offset + t0) % len(xs)]
            t0 += 1
        out.append((bx, bt))
    return out


def _seq_batches(book: str, name: str, batch: int, steps: int, reverse: bool) -> tuple[list[Any], int]:
    sys.path.insert(0, book)
    from dataset import sequence  # the book's loader of its own data sets

    (x_train, t_train), _ = sequence.load_data(name)
    if reverse:
        x_train = x_train[:, ::-1]
    vocab = len(sequence.get_vocab()[0])
    return [(x_train[i * batch:(i + 1) * batch], t_train[i * batch:(i + 1) * batch]) for i in range(steps)], vocab


def _case(book: str, case: str, steps: int, corpus: np.ndarray) -> dict[str, Any]:
    """Per side: (make the model and optimizer, max_grad) and the batches."""
    if case in ("better-rnnlm", "rnnlm"):
        chapter, name, cls = ("ch06", "better_rnnlm", "BetterRnnlm") if case == "better-rnnlm" \
            else ("ch06", "rnnlm", "Rnnlm")
        args = (10000, 650, 650, 0.5) if case == "better-rnnlm" else (10000, 100, 100)
        batches = _lm_batches(corpus, 20, 35, steps)
        return {"where": (chapter, name, cls), "args": args, "optimizer": ("SGD", {"lr": 20.0}),
                "max_grad": 0.25, "batches": batches}
    if case == "attention-seq2seq":
        batches, vocab = _seq_batches(book, "date.txt", 128, steps, reverse=True)
        return {"where": ("ch08", "attention_seq2seq", "AttentionSeq2seq"), "args": (vocab, 16, 256),
                "optimizer": ("Adam", {}), "max_grad": 5.0, "batches": batches}
    if case == "seq2seq":
        batches, vocab = _seq_batches(book, "addition.txt", 128, steps, reverse=True)
        return {"where": ("ch07", "peeky_seq2seq", "PeekySeq2seq"), "args": (vocab, 16, 128),
                "optimizer": ("Adam", {}), "max_grad": 5.0, "batches": batches}
    raise SystemExit(f"unknown case {case!r}")


def sides(book: str, case: str, steps: int, corpus: np.ndarray) -> tuple[dict[str, Any], int]:
    """Per side, ``step(i)``: one of the book's trainer steps on batch i
    (the same seed, so the same dropout masks, on both sides), returning
    its loss; and the number of batches."""
    spec = _case(book, case, steps, corpus)
    chapter, name, cls = spec["where"]
    steps_of: dict[str, Any] = {}
    for side in ("book", "zk"):
        world = _load(book, side, chapter, name)
        np.random.seed(0)  # noqa: NPY002 (the book draws from the global generator)
        model = getattr(world["module"], cls)(*spec["args"])
        opt_name, opt_args = spec["optimizer"]
        optimizer = getattr(world["optimizer"], opt_name)(**opt_args)

        def step(i: int, model: Any = model, optimizer: Any = optimizer,
                 remove_duplicate: Any = world["trainer"].remove_duplicate,
                 clip_grads: Any = world["util"].clip_grads) -> float:
            bx, bt = spec["batches"][i]
            np.random.seed(1000 + i)  # noqa: NPY002 (the same dropout masks on both sides)
            loss = model.forward(bx, bt)
            model.backward()
            params, grads = remove_duplicate(model.params, model.grads)
            clip_grads(grads, spec["max_grad"])
            optimizer.update(params, grads)
            return float(loss)
        steps_of[side] = step
    return steps_of, len(spec["batches"])


def _run_case(book: str, case: str, steps: int, corpus: np.ndarray) -> dict[str, Any]:
    step_of, n = sides(book, case, steps, corpus)
    times: dict[str, list[float]] = {"book": [], "zk": []}
    losses: dict[str, list[float]] = {"book": [], "zk": []}
    for step in range(n):
        for side in (("book", "zk") if step % 2 == 0 else ("zk", "book")):
            start = time.perf_counter()
            loss = step_of[side](step)
            times[side].append(time.perf_counter() - start)
            losses[side].append(loss)
    np.testing.assert_allclose(losses["zk"], losses["book"], rtol=2e-4)
    worst = max(abs(a - b) / abs(b) for a, b in zip(losses["zk"], losses["book"], strict=True))
    warm = slice(2, None)
    return {"book": statistics.median(times["book"][warm]), "zk": statistics.median(times["zk"][warm]),
            "worst": worst, "last": losses["book"][-1], "steps": steps}


def _lstm_table(book: str, repeats: int, threads: int) -> list[str]:
    """TimeLSTM forward+backward at the book's sizes, book / zk / torch."""
    book_layers = _load(book, "book", "ch06", "rnnlm")
    book_lstm = importlib.import_module("common.time_layers").TimeLSTM
    del book_layers
    from zk_layers.book2.time_layers import TimeLSTM

    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    lines = ["", f"## TimeLSTM forward + backward (float32, {threads} thread(s))", "",
             "| N, T, D, H | book ms | zk ms | ratio | torch nn.LSTM ms | zk vs torch |", "|---|---|---|---|---|---|"]
    rng = np.random.default_rng(0)
    for N, T, D, H in ((20, 35, 650, 650), (20, 35, 100, 100), (128, 29, 16, 256), (128, 10, 16, 256)):  # noqa: N806
        Wx = (rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype("f")  # noqa: N806
        Wh = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype("f")  # noqa: N806
        b = np.zeros(4 * H, "f")
        xs = rng.standard_normal((N, T, D)).astype("f")
        dhs = rng.standard_normal((N, T, H)).astype("f")
        sides: dict[str, Any] = {}
        ours, theirs = TimeLSTM(Wx, Wh, b), book_lstm(Wx, Wh, b)
        def both(layer: Any, xs: Any = xs, dhs: Any = dhs) -> None:
            layer.forward(xs)
            layer.backward(dhs)
        sides["book"] = lambda layer=theirs: both(layer)
        sides["zk"] = lambda layer=ours: both(layer)
        if torch is not None:
            lstm = torch.nn.LSTM(D, H, batch_first=True)
            tx = torch.from_numpy(xs).requires_grad_(True)
            tg = torch.from_numpy(dhs)

            def step(lstm: Any = lstm, tx: Any = tx, tg: Any = tg) -> None:
                out, _ = lstm(tx)
                out.backward(tg)
            sides["torch"] = step
        times: dict[str, list[float]] = {name: [] for name in sides}
        for r in range(repeats):
            for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
                start = time.perf_counter()
                sides[name]()
                times[name].append(time.perf_counter() - start)
        med = {name: statistics.median(v[1:]) * 1e3 for name, v in times.items()}
        t_ms = med.get("torch")
        lines.append(f"| {N}, {T}, {D}, {H} | {med['book']:.2f} | {med['zk']:.2f} | {med['book'] / med['zk']:.2f} | "
                     + (f"{t_ms:.2f} | {t_ms / med['zk']:.2f} |" if t_ms else "- | - |"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="better-rnnlm,rnnlm,attention-seq2seq,seq2seq")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--markdown")
    parser.add_argument("--lstm", action="store_true", help="also TimeLSTM against the book and PyTorch")
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS and OpenMP threads on both sides, the process pinned to that many cores")
    args = parser.parse_args()
    book = os.environ.get("ZK_LAYERS_BOOK2_DIR")
    if not book:
        raise SystemExit("set ZK_LAYERS_BOOK2_DIR to a checkout of the second volume")
    book = os.path.abspath(book)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:args.threads]))
    corpus, corpus_name = _corpus(os.environ.get("ZK_LAYERS_PTB_DIR"))
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    lines = ["# The second volume's models (ch05-ch08), the book's common against zk_layers.book2", "",
             f"{cpu_model()}, Python {platform.python_version()}, NumPy {np.__version__}, BLAS "
             f"{', '.join(blas)}; {args.threads} thread(s), pinned to as many cores; language models on {corpus_name}; "
             "interleaved, the first 2 steps left out; medians.", "",
             "| step | steps | book ms | zk ms | ratio | losses: worst relative difference |",
             "|---|---|---|---|---|---|"]
    with threadpool_limits(args.threads):
        for case in args.cases.split(","):
            r = _run_case(book, case, args.steps, corpus)
            lines.append(f"| {case} | {r['steps']} | {r['book'] * 1e3:.1f} | {r['zk'] * 1e3:.1f} | "
                         f"{r['book'] / r['zk']:.2f} | {r['worst']:.1e} |")
            print(lines[-1], flush=True)
        if args.lstm:
            lines += _lstm_table(book, args.repeats, args.threads)
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
