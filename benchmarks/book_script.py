#!/usr/bin/env python3
"""Run a script of the book's own repository with zk_layers' fast layers in place of the book's.

"Deep Learning from Scratch" ships its code at github.com/oreilly-japan/deep-learning-from-scratch.
Point this tool at a checkout of it and name one script; the script runs unchanged, as if started
from its own folder (``cd ch05 && python train_neuralnet.py``), except that the layer classes of
the book are replaced by ``zk_layers.layers``' compiled ones:

    python3 benchmarks/book_script.py ch05/train_neuralnet.py --book-dir ~/deep-learning-from-scratch
    python3 benchmarks/book_script.py run ch05/gradient_check.py --layers book --seed 0
    python3 benchmarks/book_script.py compare ch05/train_neuralnet.py --repeats 3 --threads 1

``run`` (the default command) runs the script once in this process.  ``compare`` runs it in child
processes, alternately with the book's layers and with zk_layers' (the order flips every round so
that drift of the machine hits both sides alike), times each child, and prints the median wall
time per side, the ratio book / zk, and whether the numbers the two sides print agree.

What is replaced
    The classes ``MulLayer``, ``AddLayer``, ``Relu``, ``Sigmoid``, ``Affine`` and
    ``SoftmaxWithLoss`` of the book's modules ``common.layers`` and, for the scripts of chapter 5,
    ``layer_naive`` (where the book keeps ``MulLayer`` and ``AddLayer``; ``buy_apple.py`` imports
    them from there).  Only names a module defines are replaced: nothing is added, and everything
    else (Dropout, BatchNormalization, Convolution, Pooling, the functions) stays the book's.  The
    modules are imported and patched before the script runs, so the script and the modules it
    imports (``from common.layers import *`` in ch05/two_layer_net.py) see the fast classes.

How the script is run
    The script's folder becomes the working directory and ``sys.path[0]``, and the book's root is
    put on ``sys.path`` too (the scripts add it themselves with ``sys.path.append(os.pardir)``);
    then ``runpy.run_path(script, run_name="__main__")``.  Arguments after ``--`` are passed to it.

Options
    --book-dir DIR   the book's checkout (default: the environment variable ZK_LAYERS_BOOK_DIR);
                     SCRIPT is taken relative to it unless it is an existing path of its own
    --layers zk|book which layers to use (run only; compare runs both)
    --seed N         ``np.random.seed(N)`` just before the script starts.  The book's scripts draw
                     their weights and mini-batches from NumPy's global generator, so both sides of
                     a comparison must start from the same seed: compare uses 0 unless told.
    --threads N      OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS = N, set before
                     NumPy is loaded (the tool imports NumPy only after reading its arguments)

The header of ``compare`` records the CPU, NumPy's BLAS as threadpoolctl sees it (library, kernel
architecture, threads) and the thread and BLAS variables of the environment.  OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE are reported when set, never changed.

Numbers are compared as the numbers found in the two outputs, in order, with
|zk - book| <= atol + rtol * |book| (defaults: rtol 1e-3, atol 2e-3).  The book's MNIST loader
prints "Converting ..." lines the first time it builds dataset/mnist.pkl; build it once before
comparing (any run of a script that loads MNIST does).

Exit status of compare: 0 when every run succeeded and the numbers agree, 1 when a run failed,
3 when the numbers differ.
"""

# Only the standard library is imported at module level: --threads has to reach the environment
# before NumPy (and with it OpenBLAS and the OpenMP runtime) is loaded.
from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

REPLACED = ("MulLayer", "AddLayer", "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Convolution", "Pooling")
# The book's modules that define those classes, as its scripts import them.  "layer_naive" lives in
# ch05/ and is importable only when the script's own folder is on sys.path (it is, see above).
BOOK_MODULES = ("common.layers", "layer_naive")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REPORTED_PREFIXES = ("OMP_", "OPENBLAS_", "MKL_", "GOMP_", "KMP_", "ZK_LAYERS_")
SIDES = ("book", "zk")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\b")


# --------------------------------------------------------------------------- arguments


def parse_args(argv: list[str]) -> argparse.Namespace:
    script_args: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, script_args = argv[:at], argv[at + 1 :]
    if not argv or argv[0] not in ("run", "compare", "-h", "--help"):
        argv = ["run", *argv]

    parser = argparse.ArgumentParser(
        prog="book_script.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Arguments after -- are passed to the book's script.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("script", help="the book's script, e.g. ch05/train_neuralnet.py")
        sub.add_argument(
            "--book-dir",
            default=os.environ.get("ZK_LAYERS_BOOK_DIR"),
            help="checkout of oreilly-japan/deep-learning-from-scratch (default: $ZK_LAYERS_BOOK_DIR)",
        )
        sub.add_argument("--threads", type=int, help="set OMP/OPENBLAS/MKL_NUM_THREADS before NumPy loads")

    run = commands.add_parser("run", help="run the script once, here (the default command)")
    common(run)
    run.add_argument("--layers", choices=SIDES, default="zk", help="whose layers the script gets (default: zk)")
    run.add_argument("--seed", type=int, help="np.random.seed(N) before the script starts")
    run.add_argument("--report", help=argparse.SUPPRESS)  # JSON file for compare: timing, what was replaced

    compare = commands.add_parser("compare", help="time book against zk in alternating child processes")
    common(compare)
    compare.add_argument("--repeats", type=int, default=3, help="runs per side (default: 3)")
    compare.add_argument("--seed", type=int, default=0, help="np.random.seed(N) in every run (default: 0)")
    compare.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance for the numbers (1e-3)")
    compare.add_argument("--atol", type=float, default=2e-3, help="absolute tolerance for the numbers (2e-3)")
    compare.add_argument("--show", type=int, default=40, help="print the last N lines of each side's output")

    args = parser.parse_args(argv)
    args.script_args = script_args
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.command == "compare" and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not args.book_dir:
        parser.error("name the book's checkout with --book-dir or ZK_LAYERS_BOOK_DIR")
    args.book_dir = os.path.abspath(os.path.expanduser(args.book_dir))
    if not os.path.isdir(os.path.join(args.book_dir, "common")):
        parser.error(f"{args.book_dir} does not look like the book's checkout (no common/ folder)")
    args.script = resolve_script(parser, args.book_dir, args.script)
    return args


def resolve_script(parser: argparse.ArgumentParser, book_dir: str, script: str) -> str:
    for candidate in (os.path.join(book_dir, script), script):
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    parser.error(f"no script {script!r} in {book_dir}")
    raise AssertionError  # parser.error exits


def set_threads(threads: int | None) -> None:
    """Export the thread counts; must run before NumPy is imported, or it would not apply."""
    if threads is None:
        return
    if "numpy" in sys.modules:  # a sitecustomize got there first: start over with the variables set
        if os.environ.get("_ZK_BOOK_SCRIPT_REEXEC") == "1":
            sys.exit("book_script.py: NumPy is imported before the tool runs; --threads cannot apply")
        os.environ["_ZK_BOOK_SCRIPT_REEXEC"] = "1"
        os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
        os.execv(sys.executable, [sys.executable, *sys.argv])
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})


# --------------------------------------------------------------------------- run


def install_layers(side: str) -> list[str]:
    """Import the book's layer modules and, for side "zk", put zk_layers' classes in them.

    Returns the replaced names as "module.Class".  Must run after sys.path is set up and before the
    script (or anything that does ``from common.layers import *``) is imported.
    """
    import importlib

    modules = []
    for name in BOOK_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but one of its own imports failed
                raise
    if side == "book":
        return []

    import zk_layers as fast  # every layer class, chapter 7 included

    replaced = []
    for module in modules:
        for cls in REPLACED:
            if isinstance(vars(module).get(cls), type):
                setattr(module, cls, getattr(fast, cls))
                replaced.append(f"{module.__name__}.{cls}")
    return replaced


def run(args: argparse.Namespace) -> int:
    script_dir = os.path.dirname(args.script)
    # As `cd <script's folder> && python <script>` would have it, plus the book's root.
    sys.path[0] = script_dir
    sys.path.insert(1, args.book_dir)
    os.chdir(script_dir)

    report: dict[str, Any] = {"layers": args.layers, "script": args.script}
    try:
        report["replaced"] = install_layers(args.layers)
        if args.seed is not None:
            import numpy as np

            np.random.seed(args.seed)  # noqa: NPY002  (the book draws from the legacy global generator)
        sys.argv = [args.script, *args.script_args]
        start = time.perf_counter()
        try:
            runpy.run_path(args.script, run_name="__main__")
        finally:
            report["script_s"] = time.perf_counter() - start
            sys.stdout.flush()
    finally:
        if args.report:
            with open(args.report, "w") as f:
                json.dump(report, f)
    return 0


# --------------------------------------------------------------------------- compare


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def git_commit(path: str) -> str:
    try:
        out = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


def shown_path(path: str, root: str) -> str:
    relative = os.path.relpath(path, root)
    return path if relative.startswith(os.pardir) else relative


def header(args: argparse.Namespace) -> list[str]:
    """What the timings depend on: CPU, BLAS and its kernel, threads, versions, environment."""
    import platform

    import numpy as np

    lines = [
        f"script:     {shown_path(args.script, args.book_dir)} in {args.book_dir} (commit {git_commit(args.book_dir)})",
        f"cpu:        {cpu_model()} ({usable_cpus()} usable CPUs)",
        f"python:     {platform.python_version()}  numpy: {np.__version__}",
    ]
    try:
        import zk_layers
        from zk_layers import _kernels

        # The kernel build chosen for this CPU (avx512/avx2/baseline); a private name, so asked softly.
        chosen = getattr(_kernels, "KERNELS", None) or getattr(_kernels, "selected", None)
        kernels = getattr(chosen, "level", "?")
        lines.append(
            f"zk_layers:  {zk_layers.__version__} from {os.path.dirname(zk_layers.__file__)} (kernels {kernels})"
        )
    except Exception as exc:  # the zk side will fail and say why; the header says it first
        lines.append(f"zk_layers:  NOT IMPORTABLE: {type(exc).__name__}: {exc}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        lines.append("blas:       threadpoolctl not installed: BLAS kernel unknown")
    else:
        pools = threadpool_info()
        blas = [p for p in pools if p.get("user_api") == "blas"]
        for pool in blas:
            lines.append(
                f"blas:       {pool.get('internal_api')} {pool.get('version')} kernel={pool.get('architecture')} "
                f"threading={pool.get('threading_layer')} num_threads={pool.get('num_threads')} "
                f"({os.path.basename(pool.get('filepath', ''))})"
            )
        if not blas:
            lines.append("blas:       none found by threadpoolctl")
        for pool in pools:
            if pool.get("user_api") == "openmp":
                lines.append(
                    f"openmp:     {pool.get('internal_api')} num_threads={pool.get('num_threads')} "
                    f"({os.path.basename(pool.get('filepath', ''))})"
                )
    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith(REPORTED_PREFIXES)}
    lines.append("env:        " + (" ".join(f"{k}={v}" for k, v in env.items()) or "(no thread or BLAS variables set)"))
    lines.append(f"protocol:   {args.repeats} run(s) per side, alternating, seed {args.seed}, child-process wall time")
    return lines


def run_child(args: argparse.Namespace, side: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        report_path = tmp.name
    command = [
        sys.executable, os.path.abspath(__file__), "run", args.script,
        "--book-dir", args.book_dir, "--layers", side, "--seed", str(args.seed), "--report", report_path,
    ]  # fmt: skip
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    if args.script_args:
        command += ["--", *args.script_args]
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")  # a plt.show() in a script must not wait for a window
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    try:
        with open(report_path) as f:
            report = json.load(f)
    except (OSError, ValueError):
        report = {}
    finally:
        os.unlink(report_path)
    return {"side": side, "wall_s": wall, "rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, **report}


def numbers(text: str) -> list[float]:
    return [float(m) for m in NUMBER.findall(text)]


def agree(reference: str, other: str, rtol: float, atol: float) -> tuple[bool, str]:
    """Do the numbers printed in `other` match those in `reference`?  (verdict, one-line detail)"""
    a, b = numbers(reference), numbers(other)
    if len(a) != len(b):
        return False, f"book printed {len(a)} numbers, this run {len(b)}"
    worst_abs = worst_rel = 0.0
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != x and y != y:  # both nan
            continue
        diff = abs(y - x)
        if not diff <= atol + rtol * abs(x):
            return False, f"number {i + 1} of {len(a)}: {x!r} against {y!r}"
        worst_abs = max(worst_abs, diff)
        if x:
            worst_rel = max(worst_rel, diff / abs(x))
    skeleton = NUMBER.sub("#", reference) == NUMBER.sub("#", other)
    text = "" if skeleton else "; the text around them differs"
    count = f"{len(a)} number{'' if len(a) == 1 else 's'}"
    return True, f"{count}, largest difference {worst_abs:.3g} (relative {worst_rel:.3g}){text}"


def indented(text: str, last: int) -> str:
    lines = text.rstrip("\n").splitlines()
    cut = lines[-last:] if last > 0 else []
    more = [f"    ... ({len(lines) - len(cut)} earlier lines)"] if len(cut) < len(lines) else []
    return "\n".join(more + ["    " + line for line in cut])


def compare(args: argparse.Namespace) -> int:
    print("\n".join(header(args)), flush=True)
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    failed = None
    for round_ in range(args.repeats):
        order = SIDES if round_ % 2 == 0 else SIDES[::-1]
        for side in order:
            result = run_child(args, side)
            runs[side].append(result)
            script = f", script {result['script_s']:.2f} s" if "script_s" in result else ""
            print(f"round {round_ + 1} {side:>4}: {result['wall_s']:.2f} s{script}, exit {result['rc']}", flush=True)
            if result["rc"] != 0:
                failed = result
                break
        if failed:
            break

    if failed:
        print(f"\nthe {failed['side']} side failed (exit {failed['rc']}); its output:")
        print(indented(failed["stdout"], args.show))
        print(f"its stderr:\n{indented(failed['stderr'], 200)}")
        return 1

    zk_replaced = runs["zk"][0].get("replaced", [])
    print(f"\nzk side replaced: {', '.join(zk_replaced) or 'NOTHING (the script uses none of the layers)'}")
    for side in SIDES:
        print(f"\noutput, {side} (run 1):\n{indented(runs[side][0]['stdout'], args.show)}")

    print()
    medians = {}
    for side in SIDES:
        walls = [r["wall_s"] for r in runs[side]]
        scripts = [r["script_s"] for r in runs[side] if "script_s" in r]
        medians[side] = (statistics.median(walls), statistics.median(scripts) if scripts else float("nan"))
        print(
            f"median {side:>4}: {medians[side][0]:.2f} s wall (script {medians[side][1]:.2f} s); "
            f"runs: {', '.join(f'{w:.2f}' for w in walls)}"
        )
    ratio_wall = medians["book"][0] / medians["zk"][0]
    ratio_script = medians["book"][1] / medians["zk"][1]
    print(f"ratio book/zk: {ratio_wall:.2f} (wall), {ratio_script:.2f} (script alone)")

    reference = runs["book"][0]["stdout"]
    verdicts = []
    for side in SIDES:
        for i, result in enumerate(runs[side]):
            if side == "book" and i == 0:
                continue
            ok, detail = agree(reference, result["stdout"], args.rtol, args.atol)
            verdicts.append(ok)
            print(f"numbers, {side} run {i + 1} vs book run 1: {'same' if ok else 'DIFFERENT'} ({detail})")
    same = all(verdicts)
    print(f"numbers: {'same' if same else 'DIFFERENT'} (rtol {args.rtol:g}, atol {args.atol:g})")
    return 0 if same else 3


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    set_threads(args.threads)
    if args.command == "compare":
        return compare(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
