"""``zk-layers book run`` and ``zk-layers book check``: the book's scripts, unchanged.

``run`` executes one script of the book's repository in this process, as
``cd <script's folder> && python <script>`` would, with one difference: the
modules ``common`` and ``common.*`` are served by :mod:`zk_layers.book`
(aliases in ``sys.modules``, installed before the script starts; the book's
scripts append the book's root to ``sys.path``, but an entry of
``sys.modules`` wins over any path).  The script's own folder (``ch05/
two_layer_net.py``, ``ch07/simple_convnet.py``, ``ch08/deep_convnet.py``)
and the book's ``dataset/`` stay the book's.  Nothing of the book is edited:
a write the script makes into the book's checkout (``ch07/train_convnet.py``
saves ``params.pkl`` next to itself) goes to an output folder instead, and
a later read of that file by the same run is sent there too.

* ``--seed N`` calls ``np.random.seed(N)`` before the script runs.
* ``--common book`` serves the book's own ``common`` instead (everything else
  the same): the other side of ``check``.
* ``--max-steps N`` (or ``ZK_LAYERS_BOOK_MAX_STEPS=N``) stops the script
  cleanly when it starts its (N+1)-th training step, counted as calls of
  ``SoftmaxWithLoss.backward`` of the ``common.layers`` in use.  The count
  is the same for the book's classes and ours, so a seeded run is cut at
  the same place on both sides; long training loops become short checks.
* ``MPLBACKEND`` defaults to ``Agg``, so ``plt.show()`` returns at once.

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

import argparse
import builtins
import contextlib
import importlib
import json
import math
import os
import re
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["run_script", "check", "StepLimitReached", "COMMON_MODULES"]

# The book's common/ package, module for module.
COMMON_MODULES = ("functions", "gradient", "layers", "multi_layer_net", "multi_layer_net_extend",
                  "optimizer", "trainer", "util")
MAX_STEPS_VARIABLE = "ZK_LAYERS_BOOK_MAX_STEPS"
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


class StepLimitReached(BaseException):  # noqa: N818 (BaseException: a script's `except Exception` must not catch it)
    """Raised inside a script when it starts more training steps than allowed."""


# ------------------------------------------------------------------ helpers
def find_book_dir(script: str, book_dir: str | None = None) -> str:
    """The book's checkout that holds ``script``: its folder's parent when that
    has ``common/`` or ``dataset/``, else ``book_dir``."""
    parent = os.path.dirname(os.path.dirname(os.path.abspath(script)))
    if os.path.isdir(os.path.join(parent, "common")) or os.path.isdir(os.path.join(parent, "dataset")):
        return parent
    if book_dir:
        return os.path.abspath(book_dir)
    raise ValueError(f"{script} is not in a checkout of the book (no common/ or dataset/ next to its "
                     f"folder); give --book-dir or ZK_LAYERS_BOOK_DIR")


def resolve_script(script: str, book_dir: str | None) -> str:
    """``script`` as given, or relative to ``book_dir``; an absolute path."""
    candidates = [script] + ([os.path.join(book_dir, script)] if book_dir else [])
    for candidate in candidates:
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    where = f" or in {book_dir}" if book_dir else ""
    raise FileNotFoundError(f"no script {script!r} here{where}")


def _max_steps_from_environment() -> int | None:
    text = os.environ.get(MAX_STEPS_VARIABLE, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{MAX_STEPS_VARIABLE} must be a positive integer, got {text!r}") from None
    if value < 1:
        raise ValueError(f"{MAX_STEPS_VARIABLE} must be a positive integer, got {value}")
    return value


@contextlib.contextmanager
def _served_common(side: str) -> Iterator[Any]:
    """Make ``common`` and ``common.*`` zk_layers.book's (side "zk") for the
    block; yields the ``common.layers`` module the script will get."""
    saved = {name: mod for name, mod in sys.modules.items() if name == "common" or name.startswith("common.")}
    if side == "zk":
        package = importlib.import_module("zk_layers.book")
        sys.modules["common"] = package
        for name in COMMON_MODULES:
            sys.modules[f"common.{name}"] = importlib.import_module(f"zk_layers.book.{name}")
    try:
        yield importlib.import_module("common.layers")
    finally:
        for name in [n for n in sys.modules if n == "common" or n.startswith("common.")]:
            del sys.modules[name]
        sys.modules.update(saved)


@contextlib.contextmanager
def _step_limit(layers_module: Any, max_steps: int | None, counter: dict[str, int]) -> Iterator[None]:
    """Count training steps (SoftmaxWithLoss.backward calls); stop the script
    when step max_steps + 1 starts."""
    if max_steps is None:
        yield
        return
    cls = layers_module.SoftmaxWithLoss
    original = cls.__dict__.get("backward")
    inherited = original is None
    backward = cls.backward

    def counted_backward(self: Any, *args: Any, **kwargs: Any) -> Any:
        if counter["steps"] >= max_steps:
            raise StepLimitReached(max_steps)
        counter["steps"] += 1
        return backward(self, *args, **kwargs)

    cls.backward = counted_backward
    try:
        yield
    finally:
        if inherited:
            del cls.backward
        else:
            cls.backward = original


@contextlib.contextmanager
def _writes_outside(book_dir: str, output_dir: str | None, redirected: dict[str, str]) -> Iterator[None]:
    """Send every file the script opens for writing inside ``book_dir`` to
    ``output_dir`` (created on first use), and later opens of that file there."""
    real_open = builtins.open
    root = os.path.realpath(book_dir) + os.sep
    state = {"dir": output_dir}

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, bytes, os.PathLike)) and not isinstance(file, int):
            path = os.path.realpath(os.fsdecode(file))
            if path in redirected:
                file = redirected[path]
            elif path.startswith(root) and any(flag in mode for flag in "wax+"):
                out_dir = state["dir"]
                if out_dir is None:
                    out_dir = state["dir"] = tempfile.mkdtemp(prefix="zk-book-run-")
                target = os.path.join(out_dir, os.path.relpath(path, root))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                redirected[path] = target
                print(f"zk-layers book run: the script writes {os.path.relpath(path, root)}; "
                      f"written to {target} instead (the book's checkout is left as it is)",
                      file=sys.stderr)
                file = target
        return real_open(file, mode, *args, **kwargs)

    builtins.open = guarded_open
    try:
        yield
    finally:
        builtins.open = real_open


# --------------------------------------------------------------------- run
def run_script(script: str, args: Sequence[str] = (), *, seed: int | None = None, common: str = "zk",
               max_steps: int | None = None, book_dir: str | None = None,
               output_dir: str | None = None) -> dict[str, Any]:
    """Run one of the book's scripts in this process (see the module docstring).

    Returns a report: ``script_s`` (seconds in the script), ``steps`` (training
    steps counted when a limit was set), ``stopped`` (True when the limit cut
    the run) and ``redirected`` (book path -> where its writes went).  The
    working directory, ``sys.path``, ``sys.argv``, ``MPLBACKEND``, the served
    ``common`` modules and every patch are restored afterwards.
    """
    if common not in ("zk", "book"):
        raise ValueError(f"common must be 'zk' or 'book', got {common!r}")
    script = resolve_script(script, book_dir)
    book_dir = find_book_dir(script, book_dir)
    script_dir = os.path.dirname(script)
    if max_steps is None:
        max_steps = _max_steps_from_environment()
    saved_backend = os.environ.get("MPLBACKEND")
    os.environ.setdefault("MPLBACKEND", "Agg")  # plt.show() must not wait for a window

    saved_path, saved_argv, saved_cwd = list(sys.path), list(sys.argv), os.getcwd()
    counter = {"steps": 0}
    redirected: dict[str, str] = {}
    report: dict[str, Any] = {"script": script, "common": common, "seed": seed, "max_steps": max_steps,
                              "stopped": False}
    # As `cd <script's folder> && python <script>` has it, plus the book's
    # root (which the scripts append themselves, relatively, as os.pardir).
    sys.path[:0] = [script_dir, book_dir]
    os.chdir(script_dir)
    start = time.perf_counter()
    try:
        with _served_common(common) as layers_module, _step_limit(layers_module, max_steps, counter), \
                _writes_outside(book_dir, output_dir, redirected):
            if seed is not None:
                import numpy as np

                np.random.seed(seed)  # noqa: NPY002 (the book draws from the global generator)
            sys.argv = [script, *args]
            start = time.perf_counter()
            try:
                runpy.run_path(script, run_name="__main__")
            except StepLimitReached:
                report["stopped"] = True
    finally:
        report["script_s"] = time.perf_counter() - start
        report["steps"] = counter["steps"]
        report["redirected"] = redirected
        sys.stdout.flush()
        sys.path[:], sys.argv[:] = saved_path, saved_argv
        os.chdir(saved_cwd)
        if saved_backend is None:  # leave the caller's environment as it was
            os.environ.pop("MPLBACKEND", None)
    if report["stopped"]:
        assert max_steps is not None  # only _step_limit's StepLimitReached sets "stopped"
        print(f"zk-layers book run: stopped at the start of training step {max_steps + 1} "
              f"(--max-steps / {MAX_STEPS_VARIABLE})", file=sys.stderr)
    return report


# ------------------------------------------------------------------- check
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


# --------------------------------------------------------------------- CLI
def add_book_parser(sub: Any) -> None:
    """Add ``book run`` and ``book check`` to a subparsers object."""
    book = sub.add_parser("book", help="run the book's own scripts on zk_layers (chapters 5-8)",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = book.add_subparsers(dest="book_command", metavar="{run,check}")
    commands.required = True
    run = commands.add_parser("run", help="run one of the book's scripts with common served by zk_layers.book")
    run.add_argument("--seed", type=int, help="np.random.seed(N) before the script runs")
    run.add_argument("--common", choices=["zk", "book"], default="zk",
                     help="whose common package the script gets (default: zk)")
    run.add_argument("--max-steps", type=_positive_int,
                     help=f"stop at the start of training step N+1 (default: ${MAX_STEPS_VARIABLE}, else no limit)")
    run.add_argument("--book-dir", default=os.environ.get("ZK_LAYERS_BOOK_DIR"),
                     help="the book's checkout, to find SCRIPT in (default: $ZK_LAYERS_BOOK_DIR)")
    run.add_argument("--output-dir", help="where files the script writes into the book's checkout go "
                     "(default: a new temporary folder)")
    run.add_argument("--report", help=argparse.SUPPRESS)  # JSON report, for check
    run.add_argument("script", help="the book's script, e.g. ch06/batch_norm_test.py")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    run.set_defaults(run=_cli_run)
    chk = commands.add_parser("check", help="run the scripts of ch05-ch08 both ways and compare their numbers")
    chk.add_argument("book_dir", help="the book's checkout")
    chk.add_argument("--scripts", nargs="+", help="only these (relative to BOOK_DIR, e.g. ch06/overfit_dropout.py)")
    chk.add_argument("--seed", type=int, default=0, help="np.random.seed(N) on both sides (default: 0)")
    chk.add_argument("--max-steps", type=_positive_int,
                     help=f"training steps per script on both sides (default: {DEFAULT_MAX_STEPS}; "
                     + ", ".join(f"{k}: {v}" for k, v in MAX_STEPS_PER_SCRIPT.items()) + ")")
    chk.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                     help=f"relative tolerance per printed number (default: {DEFAULT_RTOL:g}; a number both "
                     "sides rounded for printing may also differ by one unit in its last digit)")
    chk.add_argument("--atol", type=float, help=f"absolute tolerance (default: 0, {GRADIENT_CHECK_ATOL:g} for "
                     "the gradient checks' printed differences)")
    chk.add_argument("--timeout", type=float, default=900, help="seconds per run (default: 900)")
    chk.add_argument("--repeats", type=_positive_int, default=1,
                     help="runs per side, interleaved; the times are medians (default: 1)")
    chk.add_argument("--json", help="also write the rows to this JSON file")
    chk.set_defaults(run=_cli_check)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _cli_run(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {}
    try:
        report = run_script(args.script, args.args, seed=args.seed, common=args.common,
                            max_steps=args.max_steps, book_dir=args.book_dir, output_dir=args.output_dir)
    finally:
        if args.report:
            with open(args.report, "w") as f:
                json.dump(report, f)
    return 0


def _cli_check(args: argparse.Namespace) -> int:
    rows = check(args.book_dir, args.scripts, seed=args.seed, max_steps=args.max_steps, rtol=args.rtol,
                 atol=args.atol, timeout=args.timeout, repeats=args.repeats)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    failed = [row["script"] for row in rows if row["same"] is False]
    if failed:
        print(f"zk-layers book check: {len(failed)} script(s) failed or printed other numbers: "
              + ", ".join(failed), file=sys.stderr)
        return 3
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m zk_layers.book run|check ...``."""
    # The usage lines read "zk-layers book run ...": the command this one
    # stands for (argparse would otherwise print "python -m zk_layers.book
    # book run", with the implied `book` shown twice).
    parser = argparse.ArgumentParser(prog="zk-layers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="book")
    # `python -m zk_layers.book run ...`: the `book` word is implied.
    add_book_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "book":
        argv = ["book", *argv]
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"zk-layers book {args.book_command}: error: {exc}", file=sys.stderr)
        return 1
