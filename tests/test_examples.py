"""The teaching material runs: every example script, and the notebook (chapter 5, and chapter 7's im2col and speed).

Each script runs in a fresh interpreter in a temporary directory, importing
the zk_layers under test (PACKAGE_PARENT), and the key numbers of its output
are checked.  The notebook is executed top to bottom with nbclient; its
code cells contain their own assertions.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PACKAGE_PARENT

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NUMBER = r"([0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?)"


def _pythonpath() -> str:
    return os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))


def run_example(name: str, tmp_path: Path) -> str:
    """Run examples/<name> and return its stdout (failing with its stderr)."""
    env = dict(os.environ, PYTHONPATH=_pythonpath(), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_shopping(tmp_path):
    out = run_example("shopping.py", tmp_path)
    assert re.search(r"with VAT 20 %.*= +780\.00 rub", out), out
    for grad in ("d(price)/d(apple)         = 2.4", "d(price)/d(orange)        = 3.6",
                 "d(price)/d(tax)           = 650"):
        assert grad in out, out
    answers = re.findall(r"= ([-+][0-9.]+) rub; recomputed bill [0-9.]+ rub, ([-+][0-9.]+) rub \(ok\)", out)
    assert answers == [("+24.00", "+24.00"), ("+18.00", "+18.00"), ("-65.00", "-65.00")], out
    assert "MISMATCH" not in out


def test_layers(tmp_path):
    out = run_example("layers.py", tmp_path)
    diffs = [float(d) for d in re.findall(r"max \|fast - [^|]*\| = " + NUMBER, out)]
    assert len(diffs) == 19, out
    assert max(diffs) < 1e-4, out  # float32 included; float64 agrees far closer
    assert "fast.W is W -> True" in out
    assert "labels index  : loss = 0.243749" in out and "labels one-hot: loss = 0.243749" in out


def test_gradient_check(tmp_path):
    out = run_example("gradient_check.py", tmp_path)
    diffs = re.findall(r"(W1|b1|W2|b2): mean (?:\|backprop - numerical\| =|abs diff) " + NUMBER, out)
    assert len(diffs) == 12, out  # the book's loop, gradient_check, and eps=0
    for key, diff in diffs:
        assert float(diff) < 1e-6, f"{key}: {diff}\n{out}"
    assert "7520 forward passes" in out
    passes = [int(n) for n in re.findall(r"([0-9]+) forward passes$", out, re.M)]
    assert passes == [6400, 100, 1000, 20], out


def test_train(tmp_path):
    out = run_example("train.py", tmp_path)
    sgd = re.search(r"^SGD: 3000 iterations .*final test accuracy " + NUMBER, out, re.M)
    adam = re.search(r"^Adam via zk.train: 3000 iterations .*final test accuracy " + NUMBER, out, re.M)
    assert sgd and adam, out
    assert float(sgd.group(1)) >= 0.95, out
    assert float(adam.group(1)) >= 0.95, out
    assert len(re.findall(r"^epoch +[0-9]+ +iter", out, re.M)) >= 10, out


@pytest.mark.slow
def test_notebook(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")  # the chapter-7 section draws im2col
    nb = nbformat.read(EXAMPLES / "ch05_backprop.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    # The kernel is a subprocess: it inherits this environment.
    monkeypatch.setenv("PYTHONPATH", _pythonpath())
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError if any cell (or its asserts) fails
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "price = 780.00 rub" in text
    accuracy = re.search(r"final test accuracy: " + NUMBER, text)
    assert accuracy and float(accuracy.group(1)) >= 0.95, text
    assert re.search(r"reference / fast = [0-9.]+x", text), text
    # Chapter 7: im2col drawn (a figure), the convolution as one product, the speed against the book's code.
    assert "input: (1, 2, 4, 4) -> im2col: (4, 18)" in text, text
    assert "== zk.Convolution(W, b).forward(x)" in text, text
    im2col_cell = next(c for c in nb.cells if c.cell_type == "code" and "zk.im2col(x, 3, 3" in c.source)
    assert any("image/png" in o.get("data", {}) for o in im2col_cell.outputs)
    timing = r" +book +[0-9.]+ ms +zk_layers +[0-9.]+ ms +book / fast = [0-9.]+x"
    for row in ("Convolution forward+backward", "Pooling forward+backward", "SimpleConvNet step (gradient + Adam)"):
        assert re.search(re.escape(row) + timing, text), text
    assert "same gradients as the book's: largest relative difference" in text
    # The second volume's chapter 4: the book's negative samples, CBOW's nearest words, the sampler's speed.
    assert "the same words as np.random.choice: True" in text, text
    assert re.search(r"\[query\] cat: (dog|horse|rabbit|mouse|cow)", text), text
    assert re.search(r"NegativeSamplingLoss forward\+backward \(batch 100\) +book [0-9.]+ ms +zk_layers "
                     r"[0-9.]+ ms +book / fast = [0-9.]+x", text), text


ROOT = EXAMPLES.parent


def _readme_command(path: Path, marker: str) -> str:
    """The command on the line after ``<!-- marker -->`` and its opening fence, as .ci/run reads it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- {marker} -->")
    return next(line for line in lines[start + 1:] if not line.startswith("`"))


@pytest.mark.parametrize("marker", ["main-command", "test-command"])
def test_readme_ja_commands_are_readme_commands(marker):
    if not (ROOT / "README.md").exists() or not (ROOT / "README.ja.md").exists():
        pytest.skip("the READMEs are not next to the tests (a run outside the source tree)")
    english = _readme_command(ROOT / "README.md", marker)
    assert english.startswith("python3 -m venv .venv && "), english
    assert _readme_command(ROOT / "README.ja.md", marker) == english


def test_the_api_index_names_every_public_name():
    usage = ROOT / "docs" / "usage.md"
    if not usage.exists():
        pytest.skip("docs/ is not next to the tests (a run outside the source tree)")
    text = usage.read_text(encoding="utf-8")
    index = text[text.index("## API index"):]
    import zk_layers as zk
    listed = set(re.findall(r"`([A-Za-z_][A-Za-z_0-9]*)`", index))
    assert set(zk.__all__) <= listed, sorted(set(zk.__all__) - listed)
    assert "Relu" in listed and "NotAName" not in listed  # the parse reads the table


def test_the_readmes_are_short_and_follow_each_other():
    if not (ROOT / "README.md").exists() or not (ROOT / "README.ja.md").exists():
        pytest.skip("the READMEs are not next to the tests (a run outside the source tree)")
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    japanese = (ROOT / "README.ja.md").read_text(encoding="utf-8")
    assert len(english.encode()) <= 16 * 1024, "README.md is over 16 KB: move detail to docs/"
    sections = [re.findall(r"^## ", text, flags=re.MULTILINE) for text in (english, japanese)]
    assert len(sections[0]) == len(sections[1]) >= 5, "README.ja.md must follow README.md section by section"


def test_every_subpackage_is_in_the_wheel():
    """pyproject's `packages` lists every folder of zk_layers that Python imports as a package:
    one left out is missing from the wheel (zk_layers.book2 once was)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = ROOT / "pyproject.toml"
    if not (pyproject.exists() and (ROOT / "zk_layers" / "__init__.py").exists()):
        pytest.skip("pyproject.toml and the package are not next to the tests (a run outside the source tree)")
    listed = set(tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "zk_layers").rglob("__init__.py")
             if "__pycache__" not in init.parts}
    assert "zk_layers.book2" in found and "zk_layers" in listed
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
