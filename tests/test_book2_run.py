"""`zk-layers book run/check` on the second volume (deep-learning-from-scratch-2).

Most tests use a small stand-in for the volume's checkout in tmp_path.  The
tests of the real checkout run when ZK_LAYERS_BOOK2_DIR names one, those of
the real Penn Treebank when ZK_LAYERS_PTB_DIR names a folder holding
ptb.train.txt, ptb.valid.txt and ptb.test.txt; both are skipped otherwise.
A test that needs a module of zk_layers.book2 this installation does not
have yet is skipped, naming it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
import shutil
import sys
import textwrap
import types

import pytest
from conftest import PACKAGE_PARENT, run_module

import zk_layers.book2
from zk_layers.book import _check, _run

BOOK2_DIR = os.environ.get("ZK_LAYERS_BOOK2_DIR")
PTB_DIR = os.environ.get("ZK_LAYERS_PTB_DIR")

needs_book2 = pytest.mark.skipif(
    not (BOOK2_DIR and os.path.isfile(os.path.join(BOOK2_DIR, "common", "time_layers.py"))),
    reason="set ZK_LAYERS_BOOK2_DIR to a checkout of the second volume (oreilly-japan/deep-learning-from-scratch-2)")
needs_ptb = pytest.mark.skipif(
    not PTB_DIR, reason="set ZK_LAYERS_PTB_DIR to a folder with ptb.train.txt, ptb.valid.txt and ptb.test.txt")


def require_zk(*names: str) -> None:
    """Skip unless zk_layers.book2 has these modules (another change adds them)."""
    for name in names:
        if importlib.util.find_spec(f"zk_layers.book2.{name}") is None:
            pytest.skip(f"zk_layers.book2.{name} is not in this installation yet")


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch):
    # A run reads these from the environment: each test sets what it means.
    monkeypatch.delenv(_run.PTB_DIR_VARIABLE, raising=False)
    monkeypatch.delenv(_run.MAX_STEPS_VARIABLE, raising=False)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def book_files(book):
    """Every file of a checkout and its bytes (the interpreter's bytecode
    caches aside: they are Python's, not the book's)."""
    found = {}
    for folder, dirs, files in os.walk(book):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, book)] = f.read()
    return found


@pytest.fixture
def fake_book2(tmp_path):
    """A stand-in for the second volume's checkout: its common/ (marked as the
    book's), time_layers.py, a dataset/ptb.py that works as the book's does
    (files next to itself, caches written there), and a few scripts."""
    book = tmp_path / "book2"
    write(book / "common" / "__init__.py", "")
    write(book / "common" / "config.py", "GPU = False\n")
    write(book / "common" / "np.py", "import numpy as np\nfrom common.config import GPU\n")
    write(book / "common" / "optimizer.py", """
        import sys
        sys.path.append('..')
        from common.np import *

        class SGD:
            def __init__(self, lr=0.01):
                self.lr = lr
            def update(self, params, grads):
                for i in range(len(params)):
                    params[i] -= self.lr * grads[i]

        class Momentum(SGD):
            pass  # inherits update: still one step a call

        class Nesterov(SGD):
            pass

        class AdaGrad(SGD):
            pass

        class RMSprop(SGD):
            pass

        class Adam(SGD):
            def update(self, params, grads):
                super().update(params, grads)  # a counted call inside a counted call: one step
    """)
    write(book / "common" / "time_layers.py", """
        import sys
        sys.path.append('..')
        from common.np import *
        import common.np
        ORIGIN = __file__
        NP_MODULE = common.np.__name__
    """)
    write(book / "dataset" / "__init__.py", "")
    write(book / "dataset" / "spiral.py", "N = 100\n")
    write(book / "dataset" / "ptb.py", """
        import os
        import pickle
        dataset_dir = os.path.dirname(os.path.abspath(__file__))

        def load_data(data_type='train'):
            vocab_path = dataset_dir + '/ptb.vocab.pkl'
            if os.path.exists(vocab_path):
                with open(vocab_path, 'rb') as f:
                    source, vocab = 'cache', pickle.load(f)
            else:
                source = 'text'
                vocab = sorted(set(open(dataset_dir + '/ptb.train.txt').read().split()))
                with open(vocab_path, 'wb') as f:
                    pickle.dump(vocab, f)
            words = open(dataset_dir + '/ptb.' + data_type + '.txt').read().split()
            return words, vocab, source
    """)
    # A reader's checkout may hold an old download and its caches: the
    # shadow folder must take neither.
    write(book / "dataset" / "ptb.train.txt", "the book's own old copy\n")
    with open(book / "dataset" / "ptb.vocab.pkl", "wb") as f:
        pickle.dump(["stale"], f)
    write(book / "ch01" / "which.py", """
        import sys, importlib, json
        sys.path.append('..')
        import common, common.np
        seen = {"common": common.__name__, "np_spec": common.np.__spec__.name}
        for name in sys.argv[1:]:
            try:
                seen[name] = importlib.import_module(name).__name__
            except ImportError as exc:
                seen[name] = "missing: " + str(exc)
        print(json.dumps(seen))
    """)
    write(book / "ch01" / "uses_time_layers.py", """
        import sys
        sys.path.append('..')
        import common.time_layers
        import common.time_layers  # a second import: no second load
        from common.time_layers import ORIGIN, NP_MODULE
        print(ORIGIN)
        print(NP_MODULE)
    """)
    write(book / "ch01" / "loop.py", """
        import sys
        sys.path.append('..')
        import numpy as np
        from common.optimizer import SGD, Momentum, Adam
        params, grads = [np.ones(3, dtype='f')], [np.ones(3, dtype='f')]
        optimizers = [SGD(), Momentum(), Adam()]
        for i in range(100):
            print("step", i)
            try:
                optimizers[i % 3].update(params, grads)
            except Exception:
                pass  # the book's scripts never do this, but a limit must not be caught by it
        print("end")
    """)
    write(book / "ch01" / "close.py", """
        import sys
        sys.path.append('..')
        import common.np
        book = common.np.__name__ == "common.np"
        loss = 2.0 if book else 2.0 * (1 + 1e-5)
        print('| epoch 1 |  iter 1 / 10 | time %d[s] | loss %.6f' % (7 if book else 1, loss))
    """)
    write(book / "ch01" / "far.py", """
        import sys
        sys.path.append('..')
        import common.np
        print('loss', 2.0 if common.np.__name__ == "common.np" else 2.5)
    """)
    write(book / "ch02" / "show_ptb.py", """
        import sys
        sys.path.append('..')
        from dataset import ptb
        words, vocab, source = ptb.load_data('train')
        if "--where" in sys.argv:  # not in `check`: each side's shadow folder has its own temporary name
            print(ptb.__file__)
        print(source, len(words), ' '.join(vocab))
    """)
    write(book / "ch02" / "count_method_big.py", "print('big', 1.5)\n")
    write(book / "ch04" / "negative_sampling_layer.py", "WHOSE = 'book'\n")
    write(book / "ch04" / "train.py", """
        import pickle
        with open('cbow_params.pkl', 'wb') as f:
            pickle.dump({'who': 'trained'}, f)
    """)
    write(book / "ch04" / "eval.py", """
        import pickle
        with open('cbow_params.pkl', 'rb') as f:
            print(pickle.load(f)['who'])
    """)
    with open(book / "ch04" / "cbow_params.pkl", "wb") as f:
        pickle.dump({"who": "book"}, f)
    write(book / "ch05" / "later.py", "print(1)\n")
    write(book / "ch09" / "beyond.py", "print(1)\n")  # no chapter of the volume: not checked
    return book


@pytest.fixture
def fake_ptb(tmp_path, monkeypatch):
    """Three small stand-ins for the PTB files, with their sums as the
    published ones (for the tests of the shadow folder, not of the sums)."""
    folder = tmp_path / "ptb"
    folder.mkdir()
    texts = {"ptb.train.txt": "b a c a\n", "ptb.valid.txt": "a b\n", "ptb.test.txt": "c\n"}
    for name, text in texts.items():
        (folder / name).write_text(text)
    monkeypatch.setattr(_run, "PTB_MD5", {name: hashlib.md5(text.encode()).hexdigest()
                                          for name, text in texts.items()})
    return folder


# -- detection --------------------------------------------------------------


def test_the_second_volume_is_told_by_common_time_layers(fake_book2, tmp_path, capsys):
    assert _run.book_volume(str(fake_book2)) == 2
    first = tmp_path / "book1"
    write(first / "common" / "layers.py", "")
    write(first / "ch01" / "hello.py", "print('hello', 1)\n")
    assert _run.book_volume(str(first)) == 1
    assert _run.run_script(str(fake_book2 / "ch02" / "count_method_big.py"))["volume"] == 2
    assert _run.run_script(str(first / "ch01" / "hello.py"))["volume"] == 1
    capsys.readouterr()
    # the chapters checked are the volume's
    assert [s.split("/")[0] for s in _check.book_scripts(str(fake_book2))] == (
        ["ch01"] * 5 + ["ch02"] * 2 + ["ch04"] * 3 + ["ch05"])
    assert _check.book_scripts(str(first)) == []  # ch01 is no chapter of the first volume's check
    (fake_book2 / "common" / "time_layers.py").unlink()
    assert _run.book_volume(str(fake_book2)) == 1


def test_data_dir_is_the_second_volumes(fake_book2, tmp_path, monkeypatch, capsys):
    first = tmp_path / "book1"
    write(first / "common" / "layers.py", "")
    write(first / "ch05" / "hello.py", "print('hello', 1)\n")
    with pytest.raises(ValueError, match="data_dir is for the second volume's Penn Treebank.*first volume"):
        _run.run_script(str(first / "ch05" / "hello.py"), data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="data_dir is for the second volume's"):
        _check.check(str(first), data_dir=str(tmp_path))
    # The variable belongs to the second volume: the first ignores it ...
    monkeypatch.setenv(_run.PTB_DIR_VARIABLE, str(tmp_path / "nowhere"))
    assert _run.run_script(str(first / "ch05" / "hello.py"))["data_dir"] is None
    assert capsys.readouterr().out == "hello 1\n"
    # ... and the second reads it.
    with pytest.raises(ValueError, match="nowhere.*not a folder"):
        _run.run_script(str(fake_book2 / "ch02" / "count_method_big.py"))


# -- what is served ---------------------------------------------------------


def test_common_is_zk_layers_book2_while_the_script_runs(fake_book2, capsys):
    import json

    names = [f"common.{name}" for name in _run.COMMON_MODULES_2] + [
        "ch04.negative_sampling_layer", "negative_sampling_layer"]
    sentinel = types.ModuleType("common")
    sys.modules["common"] = sentinel  # what the caller had: restored afterwards
    try:
        report = _run.run_script(str(fake_book2 / "ch01" / "which.py"), names)
        assert sys.modules["common"] is sentinel
    finally:
        del sys.modules["common"]
    seen = json.loads(capsys.readouterr().out)
    assert seen["common"] == "zk_layers.book2" and seen["np_spec"] == "zk_layers.book2.np"
    assert seen["common.config"] == "zk_layers.book2.config" and seen["common.np"] == "zk_layers.book2.np"
    for name in names:
        ours = "zk_layers.book2." + name.rpartition(".")[2]
        if importlib.util.find_spec(ours) is None:  # served, but not written yet: a clear refusal
            assert seen[name].startswith("missing: ") and ours in seen[name] and "--common book" in seen[name]
        else:
            assert seen[name] == ours, name
    assert report["book_modules"] == [] and report["volume"] == 2
    # afterwards: nothing served, no hook, the alias left no trace on our modules
    assert not [n for n in sys.modules if n.startswith("common.") or n.startswith("ch04")]
    assert "negative_sampling_layer" not in sys.modules
    assert not [f for f in sys.meta_path if isinstance(f, _run._ServedModules)]
    assert zk_layers.book2.np.__spec__.name == "zk_layers.book2.np"
    assert "dataset" not in sys.modules


def test_common_book_serves_the_books_own(fake_book2, capsys):
    import json

    _run.run_script(str(fake_book2 / "ch01" / "which.py"), ["common.config", "ch04.negative_sampling_layer"],
                    common="book")
    seen = json.loads(capsys.readouterr().out)
    assert seen == {"common": "common", "np_spec": "common.np", "common.config": "common.config",
                    "ch04.negative_sampling_layer": "ch04.negative_sampling_layer"}
    assert "common" not in sys.modules


def test_a_module_zk_layers_does_not_serve_is_the_books_own(fake_book2, capsys, monkeypatch):
    # The hook that takes such modules from the checkout (none now): shown with time_layers.
    monkeypatch.setattr(_run, "COMMON_MODULES_2", tuple(m for m in _run.COMMON_MODULES_2 if m != "time_layers"))
    monkeypatch.setattr(_run, "BOOK_OWN_MODULES_2", ("time_layers",))
    book_file = str(fake_book2 / "common" / "time_layers.py")
    report = _run.run_script(str(fake_book2 / "ch01" / "uses_time_layers.py"))
    out = capsys.readouterr()
    assert out.out.splitlines() == [book_file, "zk_layers.book2.np"]  # the book's file, on our common
    assert report["book_modules"] == ["common.time_layers"]
    assert out.err.count("common.time_layers is the book's own (not compiled by zk_layers yet)") == 1
    assert "common.time_layers" not in sys.modules
    assert getattr(zk_layers.book2, "time_layers", zk_layers.book2).__name__.startswith("zk_layers.book2")
    # the book's side: all of common is the book's, no hook and no note
    report = _run.run_script(str(fake_book2 / "ch01" / "uses_time_layers.py"), common="book")
    out = capsys.readouterr()
    assert out.out.splitlines() == [book_file, "common.np"]
    assert report["book_modules"] == [] and "the book's own" not in out.err


@needs_book2
def test_the_time_layers_and_attention_are_served_by_zk_layers(tmp_path, capsys):
    script = tmp_path / "probe.py"  # outside the checkout: found through book_dir
    script.write_text("import common.time_layers as t, ch08.attention_layer as a\n"
                      "print(t.__name__)\nprint(t.TimeLSTM.__module__)\nprint(a.TimeAttention.__module__)\n")
    report = _run.run_script(str(script), book_dir=BOOK2_DIR)
    assert capsys.readouterr().out.splitlines() == [
        "zk_layers.book2.time_layers", "zk_layers.book2.time_layers", "zk_layers.book2.attention_layer"]
    assert report["book_modules"] == []


def test_scripts_of_ch08_get_ch07_on_the_path(fake_book2, capsys):
    write(fake_book2 / "ch07" / "seq2seq.py", "WHO = 'ch07'\n")
    write(fake_book2 / "ch08" / "uses_ch07.py", "import seq2seq\nprint(seq2seq.WHO)\n")
    write(fake_book2 / "ch06" / "uses_ch07.py", "import seq2seq\n")
    for common in ("zk", "book"):
        _run.run_script(str(fake_book2 / "ch08" / "uses_ch07.py"), common=common)
        out = capsys.readouterr()
        assert out.out == "ch07\n"
        assert out.err.count("ch07/ appended to sys.path for ch08/") == 1 and "issue #19" in out.err
        assert "seq2seq" not in sys.modules
    with pytest.raises(ModuleNotFoundError):  # control: another chapter's scripts do not get it
        _run.run_script(str(fake_book2 / "ch06" / "uses_ch07.py"))
    assert "appended" not in capsys.readouterr().err


# -- the step limit ---------------------------------------------------------


def test_step_limit_counts_each_outer_call_once():
    class Base:
        def update(self):
            return "base"

    class Inherits(Base):
        pass

    class Overrides(Base):
        def update(self):
            return super().update() + "+"

    original = Base.__dict__["update"]
    counter = {"steps": 0}
    methods = [(Base, "update"), (Inherits, "update"), (Overrides, "update"), (Base, "update")]
    with _run._step_limit(methods, 3, counter):
        assert [Base().update(), Inherits().update(), Overrides().update()] == ["base", "base", "base+"]
        assert counter["steps"] == 3  # the nested call in Overrides is the same step
        with pytest.raises(_run.StepLimitReached):
            Inherits().update()
        assert counter["steps"] == 3
    assert Base.__dict__["update"] is original and "update" not in Inherits.__dict__
    assert Overrides().update() == "base+"
    # no limit: nothing patched
    with _run._step_limit(methods, None, counter):
        assert Base.__dict__["update"] is original


@pytest.mark.parametrize("common", ["zk", "book"])
def test_max_steps_stops_both_sides_at_the_same_step(fake_book2, capsys, common):
    if common == "zk":
        require_zk("optimizer")
    report = _run.run_script(str(fake_book2 / "ch01" / "loop.py"), max_steps=4, common=common)
    out = capsys.readouterr()
    assert out.out.split() == ["step", "0", "step", "1", "step", "2", "step", "3", "step", "4"]
    assert report["stopped"] and report["steps"] == 4
    assert "stopped at the start of training step 5 (optimizer update" in out.err
    # without a limit the script runs to its end, and nothing is counted
    report = _run.run_script(str(fake_book2 / "ch01" / "loop.py"), common=common)
    assert capsys.readouterr().out.split()[-1] == "end" and not report["stopped"] and report["steps"] == 0
    if common == "zk":
        from zk_layers.book2 import optimizer

        for name in _run.OPTIMIZERS_2:
            assert getattr(optimizer, name).update.__name__ == "update", name  # the patch is undone


@needs_book2
def test_the_real_trainer_stops_at_the_same_step_on_both_sides(capsys):
    require_zk("np", "layers", "optimizer", "trainer", "functions", "util")
    printed = {}
    for common in ("book", "zk"):
        report = _run.run_script(os.path.join(BOOK2_DIR, "ch01", "train.py"), seed=0, max_steps=25,
                                 common=common)
        assert report["stopped"] and report["steps"] == 25
        printed[common] = _check.ELAPSED_TIME_2.sub("", capsys.readouterr().out)
    assert printed["book"].count("| epoch") == 3  # iterations 1, 11, 21 of the first three epochs
    assert _check.same_numbers(printed["book"], printed["zk"], _check.DEFAULT_RTOL_2, 0)[0]


# -- the Penn Treebank ------------------------------------------------------


def test_md5_sums_are_checked(tmp_path):
    folder = tmp_path / "ptb"
    folder.mkdir()
    for name in _run.PTB_MD5:
        (folder / name).write_text(f"not the {name}\n")
    found = hashlib.md5(b"not the ptb.train.txt\n").hexdigest()
    with pytest.raises(ValueError, match=f"ptb.train.txt must have the MD5 sum "
                                         f"{_run.PTB_MD5['ptb.train.txt']}.*found {found}"):
        _run.verify_ptb_dir(str(folder))
    (folder / "ptb.train.txt").unlink()
    with pytest.raises(ValueError, match="ptb.train.txt must have .* found none \\(no such file\\)"):
        _run.verify_ptb_dir(str(folder))
    with pytest.raises(ValueError, match="not a folder"):
        _run.verify_ptb_dir(str(folder / "ptb.valid.txt"))
    with pytest.raises(TypeError, match="data_dir must be a path, got int"):
        _run.verify_ptb_dir(3)


@needs_ptb
def test_md5_sums_of_the_genuine_files_and_a_changed_byte(tmp_path):
    assert _run.verify_ptb_dir(PTB_DIR) == os.path.abspath(PTB_DIR)
    copy = tmp_path / "ptb"
    copy.mkdir()
    for name in _run.PTB_MD5:
        shutil.copyfile(os.path.join(PTB_DIR, name), copy / name)
    assert _run.verify_ptb_dir(str(copy)) == str(copy)  # a faithful copy passes
    data = bytearray((copy / "ptb.valid.txt").read_bytes())
    data[1000] ^= 1
    (copy / "ptb.valid.txt").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"ptb.valid.txt must have the MD5 sum aa0affc06ff7c36e977d7cd49e3839bf"
                                         f".*found {hashlib.md5(bytes(data)).hexdigest()}"):
        _run.verify_ptb_dir(str(copy))


@pytest.mark.parametrize("common", ["zk", "book"])
def test_dataset_ptb_reads_the_data_dir_through_the_shadow_folder(fake_book2, fake_ptb, tmp_path, capsys,
                                                                   common):
    before = book_files(fake_book2)
    path = list(sys.path)
    out_dir = tmp_path / "out"
    shadow = out_dir / _run.SHADOW_FOLDER / "dataset"
    script = str(fake_book2 / "ch02" / "show_ptb.py")
    report = _run.run_script(script, ["--where"], data_dir=str(fake_ptb), output_dir=str(out_dir),
                             common=common)
    # the book's ptb.py, through its link; the data folder's text, not the
    # book's old copy nor its stale cache
    assert capsys.readouterr().out.splitlines() == [str(shadow / "ptb.py"), "text 4 a b c"]
    assert os.path.realpath(shadow / "ptb.py") == os.path.realpath(fake_book2 / "dataset" / "ptb.py")
    assert os.path.realpath(shadow / "ptb.train.txt") == os.path.realpath(fake_ptb / "ptb.train.txt")
    assert os.path.islink(shadow / "spiral.py")  # every file of the book's dataset/
    # the cache is written into the shadow folder: nothing needed redirecting
    assert pickle.loads((shadow / "ptb.vocab.pkl").read_bytes()) == ["a", "b", "c"]
    assert not os.path.islink(shadow / "ptb.vocab.pkl")
    assert report["redirected"] == {} and report["data_dir"] == str(fake_ptb)
    assert book_files(fake_book2) == before  # nothing written into the checkout
    assert sys.path == path and "dataset" not in sys.modules
    # the next run with this --output-dir finds the cache
    _run.run_script(script, ["--where"], data_dir=str(fake_ptb), output_dir=str(out_dir), common=common)
    assert capsys.readouterr().out.splitlines()[1] == "cache 4 a b c"
    # without --output-dir the shadow folder is a temporary one, removed afterwards
    _run.run_script(script, ["--where"], data_dir=str(fake_ptb), common=common)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith(os.path.join("dataset", "ptb.py")) and not os.path.exists(first)
    # control: without a data folder the script gets the book's own dataset/
    _run.run_script(script, ["--where"], common=common)
    assert capsys.readouterr().out.splitlines() == [str(fake_book2 / "dataset" / "ptb.py"), "cache 5 stale"]


@needs_book2
@needs_ptb
def test_the_books_ptb_py_on_the_genuine_files(tmp_path, capsys):
    before = sorted(os.listdir(os.path.join(BOOK2_DIR, "dataset")))
    out_dir = tmp_path / "out"
    report = _run.run_script(os.path.join(BOOK2_DIR, "ch02", "show_ptb.py"), data_dir=PTB_DIR,
                             output_dir=str(out_dir), common="book")
    out = capsys.readouterr().out
    assert "corpus size: 929589" in out and "word_to_id['car']: 3856" in out
    shadow = out_dir / _run.SHADOW_FOLDER / "dataset"
    expected = (set(before) - set(_run.PTB_CACHES) - {"__pycache__"}) | {"ptb.train.npy", "ptb.vocab.pkl",
                                                                          *_run.PTB_MD5}
    assert set(os.listdir(shadow)) - {"__pycache__"} == expected
    assert sorted(os.listdir(os.path.join(BOOK2_DIR, "dataset"))) == before
    assert report["redirected"] == {}


# -- reading back an earlier run's output ------------------------------------


def test_a_later_run_reads_what_an_earlier_one_wrote(fake_book2, tmp_path, capsys):
    out_dir = tmp_path / "out"
    book_params = fake_book2 / "ch04" / "cbow_params.pkl"
    report = _run.run_script(str(fake_book2 / "ch04" / "eval.py"), output_dir=str(out_dir))
    assert capsys.readouterr().out == "book\n" and report["read_back"] == {}  # nothing there yet
    _run.run_script(str(fake_book2 / "ch04" / "train.py"), output_dir=str(out_dir))
    assert pickle.loads(book_params.read_bytes()) == {"who": "book"}  # the book's is left as it is
    capsys.readouterr()
    report = _run.run_script(str(fake_book2 / "ch04" / "eval.py"), output_dir=str(out_dir))
    out = capsys.readouterr()
    assert out.out == "trained\n"
    assert "the script reads ch04/cbow_params.pkl; read from" in out.err
    assert report["read_back"] == {os.path.realpath(book_params): str(out_dir / "ch04" / "cbow_params.pkl")}
    # controls: another output folder, or none, reads the book's file
    _run.run_script(str(fake_book2 / "ch04" / "eval.py"), output_dir=str(tmp_path / "other"))
    _run.run_script(str(fake_book2 / "ch04" / "eval.py"))
    assert capsys.readouterr().out == "book\nbook\n"


# -- book check --------------------------------------------------------------


@pytest.fixture
def child_path(monkeypatch):
    """The check's children must import this zk_layers."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")])))


def test_check_of_the_second_volume(fake_book2, child_path):
    out = io.StringIO()
    scripts = ["ch01/close.py", "ch01/far.py", "ch02/show_ptb.py", "ch02/count_method_big.py"]
    rows = {row["script"]: row for row in _check.check(str(fake_book2), scripts[:3], out=out)}
    text = out.getvalue()
    assert "(volume 2)" in text and "rtol 0.0002, atol 0; PTB: none" in text
    # 1e-5 apart, and other elapsed times: the same to the second volume's rtol
    assert rows["ch01/close.py"]["same"] is True, text
    assert rows["ch01/far.py"]["same"] is False and "book 2.0, zk_layers 2.5" in rows["ch01/far.py"]["detail"]
    assert rows["ch01/far.py"]["max_steps"] == _check.DEFAULT_MAX_STEPS_2
    ptb = rows["ch02/show_ptb.py"]
    assert ptb["same"] is None and ptb["verdict"] == "needs --data-dir" and ptb["book_rc"] is None
    assert "1 same numbers, 1 different or failed, 0 not compared (no numbers), 1 need --data-dir" in text
    # the first volume's rtol tells them apart; and a slow script runs only when named
    out = io.StringIO()
    rows = {row["script"]: row for row in _check.check(str(fake_book2), ["ch01/close.py", scripts[3]],
                                                       rtol=1e-9, out=out)}
    assert rows["ch01/close.py"]["same"] is False, out.getvalue()
    assert rows["ch02/count_method_big.py"]["same"] is True
    out = io.StringIO()
    rows = {row["script"]: row for row in _check.check(str(fake_book2), out=out)}
    assert rows["ch02/count_method_big.py"]["verdict"] == "slow, skipped"
    assert rows["ch05/later.py"]["same"] is True
    assert "ch09/beyond.py" not in rows and "1 slow (skipped)" in out.getvalue()


def test_check_runs_ptb_scripts_with_the_data_dir(fake_book2, tmp_path, child_path):
    # The children check the sums themselves: only the genuine files pass
    # there, so here the data folder is refused before any run.
    folder = tmp_path / "ptb"
    folder.mkdir()
    with pytest.raises(ValueError, match="ptb.train.txt must have the MD5 sum"):
        _check.check(str(fake_book2), ["ch02/show_ptb.py"], data_dir=str(folder))
    if not PTB_DIR:
        pytest.skip("set ZK_LAYERS_PTB_DIR for the run with the genuine files")
    out = io.StringIO()
    (row,) = _check.check(str(fake_book2), ["ch02/show_ptb.py"], data_dir=PTB_DIR, out=out)
    assert row["same"] is True and row["verdict"] == "yes", out.getvalue()


@needs_book2
@needs_ptb
def test_check_of_the_real_show_ptb(child_path):
    out = io.StringIO()
    (row,) = _check.check(BOOK2_DIR, ["ch02/show_ptb.py"], data_dir=PTB_DIR, out=out)
    assert row["same"] is True and "38 numbers" in row["detail"], out.getvalue()


@needs_book2
@pytest.mark.slow
@pytest.mark.parametrize("script", ["ch01/train.py", "ch03/train.py", "ch04/eval.py"])
def test_check_of_real_scripts(script, child_path):
    require_zk(*_run.COMMON_MODULES_2)
    out = io.StringIO()
    (row,) = _check.check(BOOK2_DIR, [script], max_steps=200, out=out)
    assert row["same"] is True, out.getvalue()


@needs_book2
@needs_ptb
@pytest.mark.slow
def test_check_of_the_real_word2vec_training(child_path):
    require_zk(*_run.COMMON_MODULES_2, "negative_sampling_layer")
    out = io.StringIO()
    (row,) = _check.check(BOOK2_DIR, ["ch04/train.py"], max_steps=40, data_dir=PTB_DIR, out=out)
    assert row["same"] is True and row["stopped"] and row["steps"] == 40, out.getvalue()


def test_cli_data_dir(fake_book2, tmp_path):
    result = run_module("book", "run", "--data-dir", str(tmp_path / "nowhere"),
                        str(fake_book2 / "ch02" / "show_ptb.py"))
    assert result.returncode == 1 and "data_dir" in result.stderr and "not a folder" in result.stderr
    first = tmp_path / "book1"
    write(first / "common" / "layers.py", "")
    write(first / "ch05" / "hello.py", "print('hello', 1)\n")
    result = run_module("book", "run", "--data-dir", str(tmp_path), str(first / "ch05" / "hello.py"))
    assert result.returncode == 1 and "first volume" in result.stderr


def test_config_gpu_is_refused():
    require_zk("config")
    from zk_layers.book2 import config

    with pytest.raises(ValueError, match="config.GPU must be False"):
        config.GPU = True
    assert config.GPU is False
