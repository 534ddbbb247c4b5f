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

A checkout of the second volume (:func:`zk_layers.book._run.book_volume`)
gets its own settings (:data:`VOLUMES`): the scripts of ``ch01``-``ch04``,
rtol 2e-4 (its scripts compute in float32), 1,000 steps a script (300 for
``ch04/train.py``), the trainers' elapsed ``time N[s]`` left out of the
comparison, ``ch02/count_method_big.py`` skipped as slow unless ``--scripts``
names it, and the scripts that import ``dataset.ptb`` run with ``--data-dir``
(default ``$ZK_LAYERS_PTB_DIR``) on both sides, or reported as "needs
--data-dir" without one.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._run import MAX_STEPS_VARIABLE, PTB_DIR_VARIABLE, VOLUME_2_MARKER, book_volume, verify_ptb_dir

__all__ = ["check", "same_numbers", "book_scripts", "needs_ptb", "DEFAULT_RTOL", "DEFAULT_RTOL_2",
           "GRADIENT_CHECK_ATOL", "VOLUMES"]


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

# The second volume, chapters 1-8.
CHAPTERS_2 = ("ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07", "ch08")

DEFAULT_MAX_STEPS_2 = 1000

# ch04/train.py is 10 epochs of 9,295 steps; a few hundred show the losses.
# The language models of ch06 take 0.1-1.4 s a step in the book's NumPy:
# a few reports of perplexity (every 20 steps).  The seq2seq scripts: one
# epoch (351 steps) and its accuracy on the test set, then one more step.
MAX_STEPS_PER_SCRIPT_2 = {"ch04/train.py": 300, "ch06/train_rnnlm.py": 40, "ch06/train_better_rnnlm.py": 40,
                          "ch07/train_seq2seq.py": 352, "ch08/train.py": 352}

# The second volume's scripts compute in float32: a different summation
# order moves a loss in its 7th digit, and that grows over the steps.
DEFAULT_RTOL_2 = 2e-4

# Scripts run only when --scripts names them: no training step to cut, and
# minutes on the book's side (count_method_big.py's create_co_matrix and
# ppmi are pure-Python loops over PTB, ppmi over 10^8 cells).
SLOW_SCRIPTS_2 = frozenset({"ch02/count_method_big.py"})

# The trainers print the seconds since the start of fit ("| time 12[s] |"):
# a measurement, not a result, left out of the comparison.
ELAPSED_TIME_2 = re.compile(r"\btime \d+\[s\]")

# A script that imports the Penn Treebank loader (from dataset import ptb).
PTB_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+dataset[ \t]+import[^\n#]*\bptb\b|from[ \t]+dataset\.ptb[ \t]+import\b"
                        r"|import[ \t]+dataset\.ptb\b)", re.MULTILINE)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\b")


@dataclass(frozen=True)
class Volume:
    """What ``check`` does with one volume of the book."""

    chapters: tuple[str, ...]
    rtol: float
    max_steps: int
    max_steps_per_script: Mapping[str, int]
    atol_per_script: Mapping[str, float]
    slow_scripts: frozenset[str] = frozenset()
    ignored: re.Pattern[str] | None = None  # printed text left out of the comparison
    uses_ptb: bool = False


VOLUMES = {1: Volume(CHAPTERS, DEFAULT_RTOL, DEFAULT_MAX_STEPS, MAX_STEPS_PER_SCRIPT, ATOL_PER_SCRIPT),
           2: Volume(CHAPTERS_2, DEFAULT_RTOL_2, DEFAULT_MAX_STEPS_2, MAX_STEPS_PER_SCRIPT_2, {},
                     SLOW_SCRIPTS_2, ELAPSED_TIME_2, uses_ptb=True)}


def needs_ptb(path: str) -> bool:
    """Does the script at ``path`` import the Penn Treebank loader?"""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return PTB_IMPORT.search(f.read()) is not None
    except OSError:
        return False


def book_scripts(book_dir: str) -> list[str]:
    """The scripts of the volume's chapters (5-8 of the first, 1-8 of the
    second), as paths relative to ``book_dir``."""
    found = []
    for chapter in VOLUMES[book_volume(book_dir)].chapters:
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
               timeout: float, data_dir: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zk-book-check-") as scratch:
        report_path = os.path.join(scratch, "report.json")
        command = [sys.executable, "-m", "zk_layers.book", "run", "--common", common, "--seed", str(seed),
                   "--report", report_path, "--output-dir", os.path.join(scratch, "out")]
        if max_steps is not None:
            command += ["--max-steps", str(max_steps)]
        if data_dir is not None:
            command += ["--data-dir", data_dir]
        command.append(os.path.join(book_dir, script))
        env = dict(os.environ, MPLBACKEND="Agg", **{name: "1" for name in THREAD_VARIABLES})
        env.pop(MAX_STEPS_VARIABLE, None)
        env.pop(PTB_DIR_VARIABLE, None)  # both sides get the data folder the check chose, or none
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


def _skipped_row(script: str, verdict: str, detail: str, out: Any) -> dict[str, Any]:
    print(f"{script:<40} {'':>6} {verdict:<16} {'':>8} {'':>8} {'':>6}  {detail}", file=out, flush=True)
    return {"script": script, "max_steps": None, "steps": None, "stopped": False, "same": None,
            "verdict": verdict, "detail": detail, "skipped": verdict, "book_s": None, "zk_s": None,
            "book_rc": None, "zk_rc": None, "repeats": 0, "book_runs_s": [], "zk_runs_s": []}


def _compare(book_run: dict[str, Any], zk_run: dict[str, Any], rtol: float, atol: float,
             ignored: re.Pattern[str] | None) -> tuple[bool | None, str]:
    """One round's verdict: the same steps (a side that counts other steps
    ran other code), then the same numbers."""
    if book_run.get("steps") != zk_run.get("steps"):
        return False, f"the book ran {book_run.get('steps')} training steps, zk_layers {zk_run.get('steps')}"
    book_text, zk_text = book_run["stdout"], zk_run["stdout"]
    if ignored is not None:
        book_text, zk_text = ignored.sub("", book_text), ignored.sub("", zk_text)
    return same_numbers(book_text, zk_text, rtol, atol)


def check(book_dir: str, scripts: Sequence[str] | None = None, *, seed: int = 0,
          max_steps: int | None = None, rtol: float | None = None, atol: float | None = None,
          timeout: float = 900, repeats: int = 1, data_dir: str | None = None,
          out: Any = None) -> list[dict[str, Any]]:
    """Run each script with the book's ``common`` and with zk_layers', compare
    the numbers, print a table to ``out`` (default stdout); return the rows.

    ``rtol`` defaults to the volume's (:data:`VOLUMES`: 1e-9 for the first,
    2e-4 for the second).  ``repeats`` > 1 runs each side that many times,
    alternating which goes first from round to round (so a drift of the
    machine hits both alike); the times are the medians, and every round's
    numbers must agree.  ``data_dir`` (second volume only; default
    ``$ZK_LAYERS_PTB_DIR``) is the Penn Treebank folder both sides get; the
    scripts that import ``dataset.ptb`` are "needs --data-dir" without it.
    """
    from .._validate import positive_int

    repeats = positive_int(repeats, "repeats")
    out = out or sys.stdout
    book_dir = os.path.abspath(book_dir)
    if not os.path.isdir(os.path.join(book_dir, "common")):
        raise FileNotFoundError(f"{book_dir} is not a checkout of the book (no common/ folder)")
    volume = book_volume(book_dir)
    settings = VOLUMES[volume]
    if not settings.uses_ptb and data_dir is not None:
        raise ValueError(f"data_dir is for the second volume's Penn Treebank, and {book_dir} is a checkout "
                         f"of the first volume (no {VOLUME_2_MARKER}); got data_dir={data_dir!r}")
    if settings.uses_ptb and data_dir is None:
        data_dir = os.environ.get(PTB_DIR_VARIABLE) or None
    if data_dir is not None:
        data_dir = verify_ptb_dir(data_dir)  # once, before any run: a wrong file fails the check at once
    rtol = settings.rtol if rtol is None else rtol
    named = set(scripts or ())
    scripts = list(scripts) if scripts else book_scripts(book_dir)
    header = f"{'script':<40} {'steps':>6} {'same numbers':<16} {'book s':>8} {'zk s':>8} {'ratio':>6}"
    rounds = f"; median of {repeats} runs a side, interleaved" if repeats > 1 else ""
    if repeats > 1:  # a benchmark: name the machine's software, BLAS kernel included
        from .._config import show_config

        print("software (this process; the scripts run in child processes, one thread each):", file=out)
        show_config(file=out)
    if atol is not None:
        tolerance = f"atol {atol:g}"
    elif any(settings.atol_per_script.values()):
        tolerance = f"atol 0 ({GRADIENT_CHECK_ATOL:g} for the gradient checks)"
    else:
        tolerance = "atol 0"
    ptb = ""
    if settings.uses_ptb:
        ptb = f"; PTB: {data_dir}" if data_dir else f"; PTB: none (--data-dir or ${PTB_DIR_VARIABLE})"
    print(f"book: {book_dir} (volume {volume}); seed {seed}; one thread; rtol {rtol:g}, {tolerance}{ptb}{rounds}",
          file=out)
    print(header, file=out)
    print("-" * len(header), file=out, flush=True)
    rows = []
    for script in scripts:
        if script in settings.slow_scripts and script not in named:
            rows.append(_skipped_row(script, "slow, skipped", "minutes on the book's side; name it in "
                                     "--scripts to run it", out))
            continue
        if settings.uses_ptb and data_dir is None and needs_ptb(os.path.join(book_dir, script)):
            rows.append(_skipped_row(script, "needs --data-dir", "reads the Penn Treebank (dataset/ptb.py)",
                                     out))
            continue
        limit = max_steps if max_steps is not None else settings.max_steps_per_script.get(script,
                                                                                          settings.max_steps)
        runs: dict[str, list[dict[str, Any]]] = {"book": [], "zk": []}
        for round_ in range(repeats):
            for side in ("book", "zk") if round_ % 2 == 0 else ("zk", "book"):
                runs[side].append(_run_child(book_dir, script, side, seed, limit, timeout, data_dir))
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
                same, text = _compare(book_run, zk_run, rtol,
                                      atol if atol is not None else settings.atol_per_script.get(script, 0.0),
                                      settings.ignored)
                if not same:
                    break
            verdict, detail = {True: "yes", False: "NO", None: "not compared"}[same], [text]
        if zk.get("book_modules"):  # say which of "our" side was the book's own code
            detail = [f"{detail[0]}; the book's own: {', '.join(zk['book_modules'])}"]
        steps = f"{book.get('steps', '')}{'*' if book.get('stopped') else ''}"
        # Medians of the runs that succeeded (a failed run's time, a timeout's
        # say, is no measurement); all of them if none did.
        book_s, zk_s = (statistics.median([run.get("script_s", run["wall_s"]) for run in runs[side]
                                           if run["rc"] == 0] or [run["wall_s"] for run in runs[side]])
                        for side in ("book", "zk"))
        ratio = f"{book_s / zk_s:.2f}" if zk_s > 0 and book["rc"] == zk["rc"] == 0 else ""
        print(f"{script:<40} {steps:>6} {verdict:<16} {book_s:>8.2f} {zk_s:>8.2f} {ratio:>6}  {detail[0]}",
              file=out, flush=True)
        rows.append({"script": script, "max_steps": limit, "steps": book.get("steps"),
                     "stopped": bool(book.get("stopped")), "same": same, "verdict": verdict,
                     "detail": detail[0], "skipped": None, "book_s": book_s, "zk_s": zk_s,
                     "book_rc": book["rc"], "zk_rc": zk["rc"], "repeats": len(runs["zk"]),
                     "book_runs_s": [run.get("script_s", run["wall_s"]) for run in runs["book"]],
                     "zk_runs_s": [run.get("script_s", run["wall_s"]) for run in runs["zk"]]})
    ran = [row for row in rows if not row["skipped"]]
    counts = {verdict: sum(row["same"] is value for row in ran)
              for verdict, value in (("same numbers", True), ("different or failed", False),
                                     ("not compared (no numbers)", None))}
    for reason, label in (("slow, skipped", "slow (skipped)"), ("needs --data-dir", "need --data-dir (skipped)")):
        if any(row["skipped"] == reason for row in rows):
            counts[label] = sum(row["skipped"] == reason for row in rows)
    print(", ".join(f"{n} {verdict}" for verdict, n in counts.items()), file=out)
    print("steps: training steps run on each side; * = cut there on both sides (--max-steps); "
          "times: seconds inside the script, child processes, one thread"
          + (f", medians of {repeats}" if repeats > 1 else ""), file=out)
    return rows
