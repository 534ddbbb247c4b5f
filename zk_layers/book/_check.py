"""``zk-layers book check``: the book's scripts, both ways, compared number for number.

``check`` runs every script of ``ch05``-``ch08`` both ways, each in a child
process with one thread (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS`` = 1) and the same seed and step limit, compares the
numbers the two print and prints a table: same numbers?, seconds with the
book's ``common``, seconds with zk_layers.  Every printed number is held to
rtol 1e-9 (atol 0); a number both sides rounded for printing may differ by
one unit in its last digit; the gradient checks' printed differences get
``atol`` 1e-11 (GRADIENT_CHECK_ATOL).  A failure on either side fails the
check; a script that prints no number is "not compared", never "the same".
What this proves and what it does not: docs/book.md.
``--repeats N`` runs each side N times, interleaved, and reports the median
times (the benchmark form: ``zk-layers book check BOOK --scripts
ch05/train_neuralnet.py --max-steps 10000 --repeats 3``).
"""
from __future__ import annotations

import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from ._run import MAX_STEPS_VARIABLE

__all__ = ["check", "same_numbers", "book_scripts", "DEFAULT_RTOL", "GRADIENT_CHECK_ATOL"]


CHAPTERS = ("ch05", "ch06", "ch07", "ch08")

# `check` cuts long training loops after this many steps on both sides...
DEFAULT_MAX_STEPS = 1000

# ... and these scripts, whose single steps take long in NumPy, sooner.
MAX_STEPS_PER_SCRIPT = {"ch07/train_convnet.py": 20, "ch08/train_deepnet.py": 3}

DEFAULT_RTOL = 1e-9

# The gradient checks print mean |backprop - numerical|.  The numerical
# gradient's rounding error, about eps * |f| / h = 2.2e-16 / 1e-4, moves with
# the last bits of every forward pass (a product's summation order), so
# these printed differences agree only to about 1e-12 absolute.
GRADIENT_CHECK_ATOL = 1e-11

ATOL_PER_SCRIPT = {"ch05/gradient_check.py": GRADIENT_CHECK_ATOL,
                   "ch06/batch_norm_gradient_check.py": GRADIENT_CHECK_ATOL,
                   "ch07/gradient_check.py": GRADIENT_CHECK_ATOL}

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\b")


def book_scripts(book_dir: str) -> list[str]:
    """The scripts of chapters 5-8, as paths relative to ``book_dir``."""
    found = []
    for chapter in CHAPTERS:
        folder = os.path.join(book_dir, chapter)
        if os.path.isdir(folder):
            found += [f"{chapter}/{name}" for name in sorted(os.listdir(folder)) if name.endswith(".py")]
    return found


def numbers(text: str) -> list[str]:
    """The numbers ``text`` prints, as printed."""
    return NUMBER.findall(text)


def _last_place(text: str) -> float:
    """One unit in the last printed digit of a number rounded for printing
    (fewer than 10 significant digits after a decimal point, e.g. 0.9888),
    else 0: a full-precision print (repr) is held to rtol alone."""
    mantissa, _, exponent = text.lower().partition("e")
    whole, point, fraction = mantissa.lstrip("+-").partition(".")
    if not point or len((whole + fraction).lstrip("0")) >= 10:
        return 0.0
    return 10.0 ** (-len(fraction) + (int(exponent) if exponent else 0))


def same_numbers(reference: str, other: str, rtol: float, atol: float) -> tuple[bool | None, str]:
    """Do the numbers printed in ``other`` match those in ``reference``?

    True or False, or None when neither prints a number (nothing compared).
    Equal numbers match (``inf`` matches ``inf``), NaN matches NaN in the
    same place; others within ``atol + rtol * |book|``, widened to one unit
    in the last printed digit where both sides rounded for printing (a value
    within rtol can still round the other way)."""
    a, b = numbers(reference), numbers(other)
    if len(a) != len(b):
        return False, f"the book printed {len(a)} numbers, zk_layers {len(b)}"
    if not a:
        return None, "not compared (no numbers)"
    worst = 0.0
    for i, (p, q) in enumerate(zip(a, b, strict=True)):
        x, y = float(p), float(q)
        if x == y or (x != x and y != y):  # equal (inf too), or both NaN
            continue
        diff = abs(y - x)
        allowed = atol + rtol * abs(x)
        if not math.isfinite(diff) or (not diff <= allowed
                                       and not diff <= 1.000001 * min(_last_place(p), _last_place(q))):
            return False, f"number {i + 1} of {len(a)}: book {p}, zk_layers {q}"
        worst = max(worst, diff)
    return True, f"{len(a)} numbers, largest difference {worst:.2g}"


def _run_child(book_dir: str, script: str, common: str, seed: int, max_steps: int | None,
               timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zk-book-check-") as scratch:
        report_path = os.path.join(scratch, "report.json")
        command = [sys.executable, "-m", "zk_layers.book", "run", "--common", common, "--seed", str(seed),
                   "--report", report_path, "--output-dir", os.path.join(scratch, "out")]
        if max_steps is not None:
            command += ["--max-steps", str(max_steps)]
        command.append(os.path.join(book_dir, script))
        env = dict(os.environ, MPLBACKEND="Agg", **{name: "1" for name in THREAD_VARIABLES})
        env.pop(MAX_STEPS_VARIABLE, None)
        # The child must import this very installation of zk_layers: put its
        # parent folder first, and start the child in the scratch folder, so
        # that `python -m` does not put the caller's folder (an unbuilt source
        # tree, say) ahead of it.
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (os.path.dirname(here), env.get("PYTHONPATH")) if p)
        start = time.perf_counter()
        try:
            proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
                                  cwd=scratch)
            rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            partial = exc.stdout or ""  # bytes on POSIX even with text=True
            rc, stderr = -1, f"timed out after {timeout:g} s"
            stdout = partial.decode() if isinstance(partial, bytes) else partial
        wall = time.perf_counter() - start
        try:
            with open(report_path) as f:
                report = json.load(f)
        except (OSError, ValueError):
            report = {}
    return {"rc": rc, "stdout": stdout, "stderr": stderr, "wall_s": wall, **report}


def check(book_dir: str, scripts: Sequence[str] | None = None, *, seed: int = 0,
          max_steps: int | None = None, rtol: float = DEFAULT_RTOL, atol: float | None = None,
          timeout: float = 900,
          repeats: int = 1, out: Any = None) -> list[dict[str, Any]]:
    """Run each script with the book's ``common`` and with zk_layers', compare
    the numbers, print a table to ``out`` (default stdout); return the rows.

    ``repeats`` > 1 runs each side that many times, alternating which goes
    first from round to round (so a drift of the machine hits both alike);
    the times are the medians, and every round's numbers must agree.
    """
    from .._validate import positive_int

    repeats = positive_int(repeats, "repeats")
    out = out or sys.stdout
    book_dir = os.path.abspath(book_dir)
    if not os.path.isdir(os.path.join(book_dir, "common")):
        raise FileNotFoundError(f"{book_dir} is not a checkout of the book (no common/ folder)")
    scripts = list(scripts) if scripts else book_scripts(book_dir)
    header = f"{'script':<40} {'steps':>6} {'same numbers':<14} {'book s':>8} {'zk s':>8} {'ratio':>6}"
    rounds = f"; median of {repeats} runs a side, interleaved" if repeats > 1 else ""
    if repeats > 1:  # a benchmark: name the machine's software, BLAS kernel included
        from .._config import show_config

        print("software (this process; the scripts run in child processes, one thread each):", file=out)
        show_config(file=out)
    tolerance = f"atol {atol:g}" if atol is not None else (
        f"atol 0 ({GRADIENT_CHECK_ATOL:g} for the gradient checks)")
    print(f"book: {book_dir}; seed {seed}; one thread; rtol {rtol:g}, {tolerance}{rounds}", file=out)
    print(header, file=out)
    print("-" * len(header), file=out, flush=True)
    rows = []
    for script in scripts:
        limit = max_steps if max_steps is not None else MAX_STEPS_PER_SCRIPT.get(script, DEFAULT_MAX_STEPS)
        runs: dict[str, list[dict[str, Any]]] = {"book": [], "zk": []}
        for round_ in range(repeats):
            for side in ("book", "zk") if round_ % 2 == 0 else ("zk", "book"):
                runs[side].append(_run_child(book_dir, script, side, seed, limit, timeout))
            if any(run["rc"] != 0 for run in (runs["book"][-1], runs["zk"][-1])):
                break  # a failure is the verdict: no more rounds
        book, zk = runs["book"][-1], runs["zk"][-1]
        same: bool | None
        if book["rc"] != 0 or zk["rc"] != 0:  # either side failing fails the check
            side = "book" if book["rc"] != 0 else "zk"
            verdict, detail = f"{side} failed", runs[side][-1]["stderr"].strip().splitlines()[-1:] or [""]
            same = False
        else:
            same, text = True, ""
            for book_run, zk_run in zip(runs["book"], runs["zk"], strict=True):
                same, text = same_numbers(book_run["stdout"], zk_run["stdout"], rtol,
                                          atol if atol is not None else ATOL_PER_SCRIPT.get(script, 0.0))
                if not same:
                    break
            verdict, detail = {True: "yes", False: "NO", None: "not compared"}[same], [text]
        steps = f"{book.get('steps', '')}{'*' if book.get('stopped') else ''}"
        # Medians of the runs that succeeded (a failed run's time, a timeout's
        # say, is no measurement); all of them if none did.
        book_s, zk_s = (statistics.median([run.get("script_s", run["wall_s"]) for run in runs[side]
                                           if run["rc"] == 0] or [run["wall_s"] for run in runs[side]])
                        for side in ("book", "zk"))
        ratio = f"{book_s / zk_s:.2f}" if zk_s > 0 and book["rc"] == zk["rc"] == 0 else ""
        print(f"{script:<40} {steps:>6} {verdict:<14} {book_s:>8.2f} {zk_s:>8.2f} {ratio:>6}  {detail[0]}",
              file=out, flush=True)
        rows.append({"script": script, "max_steps": limit, "steps": book.get("steps"),
                     "stopped": bool(book.get("stopped")), "same": same, "verdict": verdict,
                     "detail": detail[0], "book_s": book_s, "zk_s": zk_s,
                     "book_rc": book["rc"], "zk_rc": zk["rc"], "repeats": len(runs["zk"]),
                     "book_runs_s": [run.get("script_s", run["wall_s"]) for run in runs["book"]],
                     "zk_runs_s": [run.get("script_s", run["wall_s"]) for run in runs["zk"]]})
    counts = {verdict: sum(row["same"] is value for row in rows)
              for verdict, value in (("same numbers", True), ("different or failed", False),
                                     ("not compared (no numbers)", None))}
    print(", ".join(f"{n} {verdict}" for verdict, n in counts.items()), file=out)
    print("steps: training steps run on each side; * = cut there on both sides (--max-steps); "
          "times: seconds inside the script, child processes, one thread"
          + (f", medians of {repeats}" if repeats > 1 else ""), file=out)
    return rows
