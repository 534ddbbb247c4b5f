"""The `zk-layers` command: train, gradcheck, shopping, bench, info.

    zk-layers train [--model twolayer|convnet|deepconvnet|cbow|rnnlm|seq2seq] [--preset book|strong] ...
    zk-layers gradcheck
    zk-layers shopping [--apple-price 100] ...
    zk-layers bench [--full] [--ops ...] [--sizes ...] [--threads ...]
    zk-layers info

Also runs as ``python -m zk_layers``.  Every subcommand has ``--help``;
invalid options end with a message and exit status 2 (argparse's usage
error), failures while running with exit status 1.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._threads import limit_threads
from ._version import __version__
from .optimizers import OPTIMIZERS

PRESETS: dict[str, dict[str, Any]] = {
    # The book's setting (chapter 5, train_neuralnet.py).
    "book": {"optimizer": "sgd", "hidden": 50, "batch_size": 100, "weight_init_std": 0.01},
    # A stronger setting for the embedded digits (chapter 6's Adam).
    "strong": {"optimizer": "adam", "hidden": 100, "batch_size": 32, "weight_init_std": 0.1},
}
# SimpleConvNet's settings (chapter 7, train_convnet.py), and its conv_param options.
CONVNET_SETTINGS: dict[str, Any] = {"optimizer": "adam", "hidden": 100, "batch_size": 100, "weight_init_std": 0.01}
CONV_OPTIONS = ("filter_num", "filter_size", "pad", "stride")
# DeepConvNet's (chapter 8, train_deepnet.py): its weights are He-initialised.
DEEPCONVNET_SETTINGS: dict[str, Any] = {"optimizer": "adam", "hidden": 50, "batch_size": 100}


def _number(text: str, convert: type, accept: Any, expected: str) -> Any:
    """Parse an option value; argparse turns the error into exit status 2."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
    return value


def _positive_int(text: str) -> int:
    return int(_number(text, int, lambda v: v >= 1, "a positive integer"))


def _nonnegative_int(text: str) -> int:
    return int(_number(text, int, lambda v: v >= 0, "an integer >= 0"))


def _positive_float(text: str) -> float:
    return float(_number(text, float, lambda v: v > 0 and np.isfinite(v), "a positive finite number"))


def _nonnegative_float(text: str) -> float:
    return float(_number(text, float, lambda v: v >= 0 and np.isfinite(v), "a finite number >= 0"))


def _png_path(text: str) -> str:
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"the plot is written as PNG: give a .png file name, got {text!r}")
    return text


# The subcommands' descriptions (argparse reflows them).
_TRAIN_DESCRIPTION = """\
Train the book's TwoLayerNet (Affine-Relu-Affine-SoftmaxWithLoss, chapter 5) or, with --model
convnet, its SimpleConvNet (Conv-Relu-Pool-Affine-Relu-Affine-SoftmaxWithLoss, chapter 7: Adam
lr 0.001, batch 100, hidden 100, init std 0.01, the book's 20 epochs; on MNIST 30 filters 5x5,
pad 0, stride 1 as in the book; on the 8x8 digits 30 filters 3x3, pad 1, stride 1, so that the
maps stay 8x8 and pool to 4x4, and 40 epochs of 15 steps) or, with --model deepconvnet, its
DeepConvNet (six 3x3 convolutions, three pools, dropout, chapter 8: Adam lr 0.001, batch 100,
hidden 50, the book's 20 epochs; 40 on the digits; --dtype float32 computes in float32 throughout)
with any of the book's six optimizers, printing accuracy per epoch and the time per step."""

_GRADCHECK_DESCRIPTION = """\
The chapter's gradient check: TwoLayerNet's gradients by backprop and by central differences,
their mean absolute difference per parameter, and what each method cost."""

_SHOPPING_DESCRIPTION = """\
Polina buys apples and oranges every day at a Russian supermarket. MulLayer/AddLayer compute the
bill and, by backprop, how it reacts to each price, count and the tax."""

_BENCH_DESCRIPTION = """\
Time the book's ch05/train_neuralnet.py loop body (first), every layer's forward, backward and
forward+backward and a TwoLayerNet training step, fast against the book's plain NumPy code
(zk_layers.baseline; and PyTorch CPU when installed), interleaved, medians of many samples,
reported as ratios.  Without options: book and mid sizes, float64, 1 thread and all usable CPUs
(about a minute)."""


# --------------------------------------------------------------------- train
def _add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train the book's TwoLayerNet, SimpleConvNet, DeepConvNet or volume 2's models",
                       description=_TRAIN_DESCRIPTION)
    p.add_argument("--model", choices=["twolayer", "convnet", "deepconvnet", "cbow", "rnnlm", "seq2seq"],
                   default="twolayer",
                   help="twolayer: TwoLayerNet on flattened images; convnet: SimpleConvNet on 1xHxW images; "
                   "deepconvnet: chapter 8's DeepConvNet on 1xHxW images; "
                   "cbow: word2vec's CBOW with negative sampling (volume 2, chapter 4) on a text corpus; "
                   "rnnlm: the LSTM language model of volume 2, chapter 6, perplexity per epoch and "
                   "generated text at the end; seq2seq: chapter 8's encoder-decoder with attention, "
                   "accuracy on the test questions per epoch (default: twolayer)")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="TwoLayerNet only.  book: SGD lr 0.1, hidden 50, batch 100, init std 0.01 (chapter 5); "
                   "strong: Adam lr 0.001, hidden 100, batch 32, init std 0.1.  Options below override it.  "
                   "(default: book)")
    conv = p.add_argument_group("SimpleConvNet's convolution (--model convnet; default: 30 filters 5x5, pad 0, "
                                "stride 1 on MNIST, the book's; 30 filters 3x3, pad 1, stride 1 on the digits)")
    conv.add_argument("--filter-num", type=_positive_int, help="number of filters")
    conv.add_argument("--filter-size", type=_positive_int, help="filter height and width")
    conv.add_argument("--pad", type=_nonnegative_int, help="zero padding on each side")
    conv.add_argument("--stride", type=_positive_int, help="stride of the convolution")
    conv.add_argument("--eval-samples", type=_positive_int, metavar="N",
                      help="convnet and deepconvnet: accuracy per epoch on the first N images of each set, as "
                      "the book's Trainer does; "
                      "the final one on all (default: 1000 on MNIST, the book's; all on the digits)")
    p.add_argument("--data", choices=["digits", "mnist", "toy", "ptb", "addition", "date"],
                   help="digits: the embedded 8x8 set; mnist: IDX files from --data-dir (default for the "
                   "networks: digits); for cbow and rnnlm, toy: a generated corpus of 4,000 short sentences; "
                   "ptb: the Penn Treebank from --data-dir (default for cbow and rnnlm: toy); for seq2seq, "
                   "addition: generated sums, or the book's dataset/addition.txt with --data-dir; date: the "
                   "book's dataset/date.txt from --data-dir (default for seq2seq: addition)")
    p.add_argument("--data-dir", help="directory of the MNIST IDX files (default: $ZK_LAYERS_MNIST_DIR), of "
                   "ptb.train.txt, ptb.valid.txt, ptb.test.txt (default: $ZK_LAYERS_PTB_DIR), or the second "
                   "volume's dataset/ folder (seq2seq)")
    p.add_argument("--window-size", type=_positive_int,
                   help="cbow: context words on each side (default: 5, the book's; 2 on toy)")
    p.add_argument("--time-size", type=_positive_int,
                   help="rnnlm: time steps of truncated backpropagation (default: 35, the book's)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int, help="number of epochs")
    length.add_argument("--iters", type=_positive_int,
                        help="number of iterations (default: 3000 on digits, 10000 on MNIST; convnet and "
                        "deepconvnet: 40 epochs on digits, 20 on MNIST)")
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--lr", type=_positive_float, help="learning rate")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS),
                   help="the book's six (default: the preset's, book: sgd, strong: adam; adam for convnet and "
                   "deepconvnet; their learning rates: zk_layers.train.DEFAULT_LEARNING_RATES)")
    p.add_argument("--hidden", type=_positive_int, help="hidden layer size")
    p.add_argument("--weight-init-std", type=_positive_float)
    p.add_argument("--backend", choices=["fast", "reference"], default="fast")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64",
                   help="dtype of the weights and images (convnet, deepconvnet: of the weights; the images "
                   "stay float32, as the book's loader gives them, so float32 computes in float32 "
                   "throughout; default: float64)")
    p.add_argument("--threads", type=_positive_int, help="thread limit for the kernels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", type=_png_path, metavar="FILE.png",
                   help="draw loss and accuracy curves (needs matplotlib)")
    p.add_argument("--json", metavar="FILE", help="write the losses, accuracies and timings as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_train, train_parser=p)


def _run_train(args: argparse.Namespace) -> int:
    from .train import DEFAULT_LEARNING_RATES, default_iterations, train

    if args.model == "cbow":
        return _run_train_cbow(args)
    if args.model == "rnnlm":
        return _run_train_rnnlm(args)
    if args.model == "seq2seq":
        return _run_train_seq2seq(args)
    if args.data in ("toy", "ptb", "addition", "date") or args.window_size is not None \
            or args.time_size is not None:
        args.train_parser.error("--data toy/ptb/addition/date, --window-size and --time-size need --model cbow, "
                                "rnnlm or seq2seq")
    args.data = args.data or "digits"
    conv_options = [f"--{name.replace('_', '-')}" for name in (*CONV_OPTIONS, "eval_samples")
                    if getattr(args, name) is not None]
    if args.model in ("convnet", "deepconvnet"):
        if args.preset is not None:
            rest = ", --batch-size or --weight-init-std" if args.model == "convnet" else " or --batch-size"
            args.train_parser.error(f"--preset applies to --model twolayer; give --optimizer, --lr, --hidden{rest} "
                                    "instead")
        if args.model == "deepconvnet":
            fixed = [f"--{name.replace('_', '-')}" for name in (*CONV_OPTIONS, "weight_init_std")
                     if getattr(args, name) is not None]
            if fixed:
                args.train_parser.error(f"{', '.join(fixed)}: DeepConvNet has the book's six 3x3 convolutions "
                                        "and He-initialised weights")
            return _run_train_deepconvnet(args)
        return _run_train_convnet(args)
    if conv_options:
        models = "convnet or deepconvnet" if conv_options == ["--eval-samples"] else "convnet"
        args.train_parser.error(f"{', '.join(conv_options)} {'needs' if len(conv_options) == 1 else 'need'} "
                                f"--model {models}")
    args.preset = args.preset or "book"
    if args.plot:
        _require_matplotlib()
    preset = PRESETS[args.preset]
    options = {
        "optimizer": args.optimizer or preset["optimizer"],
        "hidden_size": args.hidden or preset["hidden"],
        "batch_size": args.batch_size or preset["batch_size"],
        "weight_init_std": args.weight_init_std or preset["weight_init_std"],
    }
    lr = args.lr if args.lr is not None else DEFAULT_LEARNING_RATES[options["optimizer"]]
    iterations = None if args.epochs else (args.iters or default_iterations(args.data))
    print(f"zk_layers {__version__}: TwoLayerNet on {args.data}, preset {args.preset}, backend {args.backend}, "
          f"{args.dtype}, {options['optimizer']} lr={lr if lr is not None else 'default'}, "
          f"hidden {options['hidden_size']}, "
          f"batch {options['batch_size']}, seed {args.seed}")
    progress = _progress_bar(iterations, args.no_progress)
    last_epoch_line = [0]

    def callback(iteration: int, loss: float) -> None:
        if progress is not None and iteration > 0:  # iteration 0: the loss before training
            progress.update(1)
            if iteration % 50 == 0:
                progress.set_postfix(loss=f"{loss:.4f}")

    try:
        result = train(args.data, hidden_size=options["hidden_size"], iterations=iterations, epochs=args.epochs,
                       batch_size=options["batch_size"], learning_rate=lr, optimizer=options["optimizer"],
                       weight_init_std=options["weight_init_std"], seed=args.seed, backend=args.backend,
                       dtype=args.dtype, threads=args.threads, data_dir=args.data_dir, callback=callback)
    finally:
        if progress is not None:
            progress.close()
    per_epoch = result.settings["iter_per_epoch"]
    step = max(1, (len(result.epochs) - 1) // 10)  # about ten lines, plus the last
    for k, (it, tr, te) in enumerate(zip(result.epochs, result.train_accuracy, result.test_accuracy, strict=True)):
        if k % step == 0 or k == len(result.epochs) - 1:
            loss = result.losses[it - 1] if it > 0 else result.initial_loss
            print(f"epoch {it / per_epoch:7.1f}  iter {it:6d}  loss {loss:7.4f}  train acc {tr:.4f}  test acc {te:.4f}")
            last_epoch_line[0] = it
    print(f"done: {len(result.losses)} iterations in {result.seconds:.2f} s "
          f"({result.seconds_per_iteration * 1e6:.1f} us per iteration, accuracy evaluations excluded); "
          f"final test accuracy {result.test_accuracy[-1]:.4f}")
    _write_outputs(result, args)
    return 0


def _with_progress(args: argparse.Namespace, total: int, every: int, postfix: Any, train: Any) -> Any:
    """``train(callback)`` under ``--threads``, with a progress bar of ``total``
    steps (unless ``--no-progress``) that shows ``postfix(loss)`` every
    ``every`` steps; the second volume's models report through it."""
    progress = _progress_bar(total, args.no_progress)

    def callback(epoch: int, step: int, loss: float) -> None:
        if progress is not None:
            progress.update(1)
            if step % every == 0:
                progress.set_postfix(epoch=epoch + 1, **postfix(loss))

    with contextlib.nullcontext() if args.threads is None else limit_threads(args.threads):
        try:
            return train(callback)
        finally:
            if progress is not None:
                progress.close()


def _refuse_unused(args: argparse.Namespace, what: str, extra: tuple[str, ...]) -> None:
    """A usage error for the options the second volume's models take not (plus ``extra``)."""
    unused = [f"--{name.replace('_', '-')}" for name in ("preset", "optimizer", "weight_init_std", "plot",
                                                         *CONV_OPTIONS, "eval_samples", *extra)
              if getattr(args, name) is not None]
    if unused or args.backend != "fast" or args.dtype != "float64":
        args.train_parser.error(f"--model {args.model} is {what}; it takes no "
                                f"{', '.join(unused) or '--backend/--dtype'}")


def _text_corpus(args: argparse.Namespace, what: str, extra: tuple[str, ...]) -> tuple[str, Any, Any, Any]:
    """The corpus of --model cbow or rnnlm: (data, corpus, word_to_id, id_to_word);
    usage errors for the options these models take not (plus ``extra``)."""
    from .word2vec import load_ptb, toy_corpus

    data = args.data or "toy"
    if data not in ("toy", "ptb"):
        args.train_parser.error(f"--model {args.model} trains on --data toy or --data ptb")
    _refuse_unused(args, what, extra)
    if data == "ptb":
        directory: str = args.data_dir or os.environ.get("ZK_LAYERS_PTB_DIR") or ""
        if not directory:
            args.train_parser.error("--data ptb needs --data-dir (or ZK_LAYERS_PTB_DIR): a folder with "
                                    "ptb.train.txt, ptb.valid.txt and ptb.test.txt")
        return (data, *load_ptb(directory))
    return (data, *toy_corpus())


def _run_train_cbow(args: argparse.Namespace) -> int:
    """``zk-layers train --model cbow``: the book's ch04/train.py on zk.CBOW
    (Adam, batch 100), the mean loss per epoch, then the nearest words."""
    from .word2vec import nearest_words, train_cbow

    data, corpus, word_to_id, id_to_word = _text_corpus(args, "the book's float32 CBOW with Adam", ("time_size",))
    queries = ["you", "year", "car", "toyota"] if data == "ptb" else ["cat", "apple", "alice", "school"]
    window = args.window_size or (5 if data == "ptb" else 2)
    hidden = args.hidden or (100 if data == "ptb" else 20)
    batch = args.batch_size or 100
    epochs = args.epochs or 10
    lr = args.lr if args.lr is not None else 0.001
    print(f"zk_layers {__version__}: CBOW on {data} ({corpus.size:,} words, {len(word_to_id):,} in the "
          f"vocabulary), hidden {hidden}, window {window}, batch {batch}, Adam lr={lr}, seed {args.seed}")
    steps = args.iters or epochs * ((corpus.size - 2 * window) // batch)
    result = _with_progress(args, steps, 50, lambda loss: {"loss": f"{loss:.3f}"}, lambda callback: train_cbow(
        corpus, len(word_to_id), hidden_size=hidden, window_size=window, batch_size=batch, max_epoch=epochs,
        lr=lr, seed=args.seed, max_steps=args.iters, callback=callback))
    for epoch, loss in enumerate(result["epoch_losses"], 1):
        print(f"epoch {epoch:3d}  mean loss {loss:.4f}")
    print(f"done: {result['steps']} steps in {result['seconds']:.2f} s "
          f"({result['seconds'] / max(1, result['steps']) * 1e3:.2f} ms per step)")
    vecs = result["model"].word_vecs
    for query in queries:
        if query in word_to_id:
            near = ", ".join(f"{w} {s:.3f}" for w, s in nearest_words(query, word_to_id, id_to_word, vecs))
            print(f"[query] {query}: {near}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": "cbow", "data": data, "epoch_losses": result["epoch_losses"],
                       "steps": result["steps"], "seconds": result["seconds"], "hidden_size": hidden,
                       "window_size": window, "batch_size": batch, "lr": lr, "seed": args.seed}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


def _run_train_rnnlm(args: argparse.Namespace) -> int:
    """``zk-layers train --model rnnlm``: the book's ch06/train_rnnlm.py on
    zk_layers.rnnlm (SGD lr 20, clip 0.25, batch 20, time 35), the perplexity
    per epoch, then text generated as ch07/generate_text.py does."""
    from .rnnlm import train_rnnlm

    data, corpus, word_to_id, id_to_word = _text_corpus(
        args, "the book's float32 LSTM language model with SGD and clipping", ("window_size",))
    hidden = args.hidden or (100 if data == "ptb" else 50)
    batch = args.batch_size or 20
    time_size = args.time_size or 35
    epochs = args.epochs or 4
    lr = args.lr if args.lr is not None else 20.0
    print(f"zk_layers {__version__}: RNNLM on {data} ({corpus.size:,} words, {len(word_to_id):,} in the "
          f"vocabulary), word vectors and hidden {hidden}, batch {batch}, time {time_size}, SGD lr={lr}, "
          f"clip 0.25, seed {args.seed}")
    per_epoch = (corpus.size - 1) // (batch * time_size)
    result = _with_progress(
        args, args.iters or epochs * per_epoch, 20, lambda loss: {"perplexity": f"{np.exp(loss):.1f}"},
        lambda callback: train_rnnlm(corpus, len(word_to_id), wordvec_size=hidden, hidden_size=hidden,
                                     batch_size=batch, time_size=time_size, lr=lr, max_epoch=epochs,
                                     seed=args.seed, max_steps=args.iters, callback=callback))
    for epoch, ppl in enumerate(result["perplexities"], 1):
        print(f"epoch {epoch:3d}  perplexity {ppl:.2f}")
    print(f"done: {result['steps']} steps in {result['seconds']:.2f} s "
          f"({result['seconds'] / max(1, result['steps']) * 1e3:.2f} ms per step)")
    start, skip = ("you", ["N", "<unk>", "$"]) if data == "ptb" else ("the", [])  # ch07/generate_text.py's
    ids = result["model"].generate(word_to_id[start], [word_to_id[w] for w in skip if w in word_to_id],
                                   sample_size=100 if data == "ptb" else 30)
    text = " ".join(id_to_word[i] for i in ids).replace(" <eos>", ".\n")
    print(f"[generated] {text}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": "rnnlm", "data": data, "perplexities": result["perplexities"],
                       "steps": result["steps"], "seconds": result["seconds"], "hidden_size": hidden,
                       "batch_size": batch, "time_size": time_size, "lr": lr, "seed": args.seed,
                       "generated": text}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


def _run_train_seq2seq(args: argparse.Namespace) -> int:
    """``zk-layers train --model seq2seq``: ch08/train.py on zk_layers.seq2seq
    (AttentionSeq2seq, Adam, clip 5, batch 128, the questions reversed), the
    mean loss and the test accuracy per epoch, then a few answers."""
    from .seq2seq import addition_data, load_sequence, split_sequence, train_seq2seq

    data = args.data or "addition"
    if data not in ("addition", "date"):
        args.train_parser.error("--model seq2seq trains on --data addition or --data date")
    _refuse_unused(args, "chapter 8's float32 encoder-decoder with attention and Adam",
                   ("window_size", "time_size"))
    if args.data_dir:
        path = os.path.join(args.data_dir, f"{data}.txt")
        if not os.path.isfile(path):
            args.train_parser.error(f"--data-dir {args.data_dir} has no {data}.txt (the second volume's "
                                    "dataset/ folder has addition.txt and date.txt)")
        x, t, char_to_id, id_to_char = load_sequence(path)
        source = path
    elif data == "date":
        args.train_parser.error("--data date needs --data-dir: the second volume's dataset/ folder (date.txt)")
    else:
        x, t, char_to_id, id_to_char = addition_data(seed=args.seed)
        source = "50,000 generated sums"
    x_train, t_train, x_test, t_test = split_sequence(x, t)
    hidden = args.hidden or 256
    batch = args.batch_size or 128
    epochs = args.epochs or 10
    lr = args.lr if args.lr is not None else 0.001
    print(f"zk_layers {__version__}: AttentionSeq2seq on {data} ({source}: {len(x_train):,} to train, "
          f"{len(x_test):,} to test, {len(char_to_id)} characters), word vectors 16, hidden {hidden}, "
          f"batch {batch}, Adam lr={lr}, clip 5, seed {args.seed}")
    result = _with_progress(
        args, args.iters or epochs * (len(x_train) // batch), 20, lambda loss: {"loss": f"{loss:.3f}"},
        lambda callback: train_seq2seq(x_train, t_train, x_test, t_test, len(char_to_id), hidden_size=hidden,
                                       batch_size=batch, max_epoch=epochs, lr=lr, seed=args.seed,
                                       max_steps=args.iters, callback=callback))
    for epoch, (loss, accuracy) in enumerate(zip(result["losses"], result["accuracies"], strict=True), 1):
        print(f"epoch {epoch:3d}  mean loss {loss:.4f}  test accuracy {accuracy * 100:.3f} %")
    print(f"done: {result['steps']} steps in {result['seconds']:.2f} s (test accuracy after each epoch "
          f"included)")
    guess = result["model"].generate(x_test[:5, ::-1], int(t_test[0, 0]), t_test.shape[1] - 1)
    for question, answer in zip(x_test[:5], guess, strict=True):
        print(f"[answer] {''.join(id_to_char[int(i)] for i in question).strip()} -> "
              f"{''.join(id_to_char[int(i)] for i in answer).strip()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": "seq2seq", "data": data, "losses": result["losses"],
                       "accuracies": result["accuracies"], "steps": result["steps"],
                       "seconds": result["seconds"], "hidden_size": hidden, "batch_size": batch, "lr": lr,
                       "seed": args.seed}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


def _run_train_convnet(args: argparse.Namespace) -> int:
    """``zk-layers train --model convnet``: SimpleConvNet, one line per epoch as it ends."""
    from .train import default_conv_param, default_convnet_epochs, train_convnet

    (x_train, t_train), test = _image_data(args)
    conv_param = default_conv_param(x_train.shape[1:])
    conv_param.update({name: getattr(args, name) for name in CONV_OPTIONS if getattr(args, name) is not None})
    optimizer, lr, hidden, batch_size, per_epoch, iterations = _image_run(
        args, CONVNET_SETTINGS, x_train.shape[0], default_convnet_epochs(args.data))
    image = "x".join(str(n) for n in x_train.shape[1:])
    print(f"zk_layers {__version__}: SimpleConvNet on {args.data} ({x_train.shape[0]} training images {image}, "
          f"{test[0].shape[0]} test): conv {conv_param['filter_num']} filters "
          f"{conv_param['filter_size']}x{conv_param['filter_size']} pad {conv_param['pad']} stride "
          f"{conv_param['stride']} - relu - 2x2 max-pool - affine {hidden} - relu - affine; backend {args.backend}, "
          f"{args.dtype} weights (float32 images), {optimizer} lr={lr}, batch {batch_size}, "
          f"{iterations} steps ({iterations / per_epoch:g} epochs), seed {args.seed}")

    def run(callback: Any, epoch_callback: Any, eval_samples: Any) -> Any:
        return train_convnet(((x_train, t_train), test), conv_param=conv_param, hidden_size=hidden,
                             iterations=iterations, batch_size=batch_size, learning_rate=lr, optimizer=optimizer,
                             weight_init_std=args.weight_init_std or CONVNET_SETTINGS["weight_init_std"],
                             seed=args.seed, backend=args.backend, dtype=args.dtype, threads=args.threads,
                             callback=callback, epoch_callback=epoch_callback, eval_samples=eval_samples)

    return _train_images(args, run, iterations, per_epoch)


def _run_train_deepconvnet(args: argparse.Namespace) -> int:
    """``zk-layers train --model deepconvnet``: DeepConvNet, one line per epoch as it ends."""
    from .train import default_deepconvnet_epochs, train_deepconvnet

    (x_train, t_train), test = _image_data(args)
    optimizer, lr, hidden, batch_size, per_epoch, iterations = _image_run(
        args, DEEPCONVNET_SETTINGS, x_train.shape[0], default_deepconvnet_epochs(args.data))
    image = "x".join(str(n) for n in x_train.shape[1:])
    computed = "float32 throughout" if args.dtype == "float32" else "float64 weights, float32 images"
    print(f"zk_layers {__version__}: DeepConvNet on {args.data} ({x_train.shape[0]} training images {image}, "
          f"{test[0].shape[0]} test): 6 convolutions 3x3 (16, 16, 32, 32, 64, 64 filters) - 3 max-pools - "
          f"affine {hidden} - dropout - affine - dropout; backend {args.backend}, {computed}, {optimizer} lr={lr}, "
          f"batch {batch_size}, {iterations} steps ({iterations / per_epoch:g} epochs), seed {args.seed}")

    def run(callback: Any, epoch_callback: Any, eval_samples: Any) -> Any:
        return train_deepconvnet(((x_train, t_train), test), hidden_size=hidden, iterations=iterations,
                                 batch_size=batch_size, learning_rate=lr, optimizer=optimizer, seed=args.seed,
                                 backend=args.backend, dtype=args.dtype, threads=args.threads, callback=callback,
                                 epoch_callback=epoch_callback, eval_samples=eval_samples)

    return _train_images(args, run, iterations, per_epoch)


def _image_run(args: argparse.Namespace, settings: dict[str, Any], train_size: int,
               default_epochs: int) -> tuple[str, float, int, int, int, int]:
    """The options a convnet command resolves: optimizer, learning rate,
    hidden size, batch size, steps per epoch and steps in all."""
    from .train import DEFAULT_LEARNING_RATES

    optimizer = args.optimizer or settings["optimizer"]
    lr = args.lr if args.lr is not None else DEFAULT_LEARNING_RATES[optimizer]
    hidden = args.hidden or settings["hidden"]
    batch_size = args.batch_size or settings["batch_size"]
    per_epoch = -(-train_size // batch_size)
    iterations = args.iters or (args.epochs or default_epochs) * per_epoch
    return optimizer, lr, hidden, batch_size, per_epoch, iterations


def _image_data(args: argparse.Namespace) -> Any:
    from .train import load_image_dataset

    if args.plot:
        _require_matplotlib()
    return load_image_dataset(args.data, args.data_dir)


def _train_images(args: argparse.Namespace, run: Any, iterations: int, per_epoch: int) -> int:
    """What the two convnets' commands share: the progress bar, a line per
    epoch with its time per step, the summary and the outputs."""
    eval_samples = args.eval_samples or (1000 if args.data == "mnist" else None)
    if eval_samples is not None:
        print(f"accuracy per epoch on the first {eval_samples} images of each set (the book's Trainer); "
              "the final one on all of them")
    progress = _progress_bar(iterations, args.no_progress)
    write = progress.write if progress is not None else print
    clock = {"last": time.perf_counter(), "epoch_s": 0.0, "epoch_steps": 0, "loss": float("nan")}

    def callback(iteration: int, loss: float) -> None:
        if iteration == 0:  # the first minibatch's loss before any update
            clock["loss"] = loss
            return
        now = time.perf_counter()
        clock["epoch_s"] += now - clock["last"]
        clock["epoch_steps"] += 1
        clock["last"], clock["loss"] = now, loss
        if progress is not None:
            progress.update(1)
            if iteration % 10 == 0:
                progress.set_postfix(loss=f"{loss:.4f}")

    def epoch_callback(iteration: int, train_accuracy: float, test_accuracy: float) -> None:
        steps = clock["epoch_steps"]
        timing = f"{clock['epoch_s'] / steps * 1e3:8.2f} ms/step" if steps else f"{'-':>8} ms/step"
        write(f"epoch {iteration / per_epoch:6.1f}  iter {iteration:6d}  loss {clock['loss']:7.4f}  "
              f"train acc {train_accuracy:.4f}  test acc {test_accuracy:.4f}  {timing}")
        clock.update(epoch_s=0.0, epoch_steps=0, last=time.perf_counter())  # evaluations not timed

    try:
        result = run(callback, epoch_callback, eval_samples)
    finally:
        if progress is not None:
            progress.close()
    result.settings["data"] = args.data
    print(f"done: {len(result.losses)} steps in {result.seconds:.2f} s "
          f"({result.seconds_per_iteration * 1e3:.2f} ms per step: gradient + {result.settings['optimizer']} "
          f"update, accuracy evaluations excluded); final test accuracy {result.test_accuracy[-1]:.4f}")
    _write_outputs(result, args)
    return 0


def _progress_bar(total: int | None, disabled: bool) -> Any:
    if disabled or total is None:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency; stay usable without it
        return None
    return tqdm(total=total, unit="it", leave=False, file=sys.stderr, disable=None)


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit("zk-layers: --plot needs matplotlib: pip install 'zk_layers[plot]' (or matplotlib)") from None


def _write_outputs(result: Any, args: argparse.Namespace) -> None:
    """The training commands' --json and --plot files."""
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result.to_dict(), f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        _plot_training(result, args.plot)
        print(f"wrote {args.plot}")


def _plot_training(result: Any, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(np.arange(1, len(result.losses) + 1), result.losses, lw=0.6)
    left.set(xlabel="iteration", ylabel="minibatch loss", title="Loss", yscale="log")
    epochs = np.asarray(result.epochs) / result.settings["iter_per_epoch"]
    right.plot(epochs, result.train_accuracy, label="train")
    right.plot(epochs, result.test_accuracy, label="test", linestyle="--")
    right.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="Accuracy")
    right.legend(loc="lower right")
    fig.suptitle(f"{result.settings.get('model', 'TwoLayerNet')} on {result.settings['data']} "
                 f"({result.settings['optimizer']}, "
                 f"hidden {result.settings['hidden_size']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------- gradcheck
def _add_gradcheck(sub: Any) -> None:
    p = sub.add_parser("gradcheck", help="backprop against numerical gradients on TwoLayerNet",
                       description=_GRADCHECK_DESCRIPTION)
    p.add_argument("--data", choices=["digits", "mnist"], default="digits")
    p.add_argument("--data-dir")
    p.add_argument("--batch", type=_positive_int, default=3, help="samples in the batch (default: 3, as in the book)")
    p.add_argument("--hidden", type=_positive_int, default=50)
    p.add_argument("--backend", choices=["fast", "reference"], default="fast")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_run_gradcheck)


def _run_gradcheck(args: argparse.Namespace) -> int:
    from .nets import TwoLayerNet
    from .train import load_dataset

    (x_train, t_train), _ = load_dataset(args.data, args.data_dir)
    if args.batch > x_train.shape[0]:
        raise SystemExit(f"zk-layers gradcheck: --batch must be at most {x_train.shape[0]}")
    x, t = x_train[: args.batch], t_train[: args.batch]
    net = TwoLayerNet(x.shape[1], args.hidden, 10, backend=args.backend, seed=args.seed)
    start = time.perf_counter()
    grad_backprop = net.gradient(x, t)
    backprop_s = time.perf_counter() - start
    start = time.perf_counter()
    grad_numerical = net.numerical_gradient(x, t)
    numerical_s = time.perf_counter() - start
    n_params = sum(p.size for p in net.params.values())
    print(f"TwoLayerNet {x.shape[1]}-{args.hidden}-10 on {args.batch} {args.data} samples, backend {args.backend}")
    print(f"{'param':<6}{'shape':>12}{'mean |backprop - numerical|':>30}")
    worst = 0.0
    for key in net.params:
        diff = float(np.mean(np.abs(grad_backprop[key] - grad_numerical[key])))
        worst = max(worst, diff)
        print(f"{key:<6}{str(net.params[key].shape):>12}{diff:>30.3e}")
    print(f"backprop:  1 forward + 1 backward pass, {backprop_s * 1e3:9.3f} ms")
    print(f"numerical: {2 * n_params} forward passes (2 per parameter, {n_params} parameters), "
          f"{numerical_s * 1e3:9.1f} ms  ({numerical_s / max(backprop_s, 1e-9):,.0f}x slower)")
    verdict = "OK" if worst < 1e-6 else "MISMATCH"
    print(f"{verdict}: largest mean difference {worst:.2e} (bar: 1e-6)")
    return 0 if worst < 1e-6 else 1


# ------------------------------------------------------------------ shopping
def _add_shopping(sub: Any) -> None:
    p = sub.add_parser("shopping", help="the seminar's shopping exercise with MulLayer/AddLayer",
                       description=_SHOPPING_DESCRIPTION)
    p.add_argument("--apple-price", type=_nonnegative_float, default=100.0, help="rubles per apple (default: 100)")
    p.add_argument("--apples", type=_positive_int, default=2, help="apples per day (default: 2)")
    p.add_argument("--orange-price", type=_nonnegative_float, default=150.0, help="rubles per orange (default: 150)")
    p.add_argument("--oranges", type=_positive_int, default=3, help="oranges per day (default: 3)")
    p.add_argument("--tax", type=_nonnegative_float, default=20.0,
                   help="consumption tax (VAT) in percent (default: 20)")
    p.add_argument("--new-tax", type=_nonnegative_float, default=10.0,
                   help="the reduced tax of question 3 (default: 10)")
    p.set_defaults(run=_run_shopping)


def _run_shopping(args: argparse.Namespace) -> int:
    from .shopping import shopping_report

    print(shopping_report(args.apple_price, args.apples, args.orange_price, args.oranges, args.tax, args.new_tax))
    return 0


# -------------------------------------------------------------------- bench
def _add_bench(sub: Any) -> None:
    from . import bench

    p = sub.add_parser("bench", help="benchmark the layers against the book's plain NumPy code (and PyTorch)",
                       description=_BENCH_DESCRIPTION)
    bench.add_arguments(p)
    p.set_defaults(run=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from . import bench

    return bench.run_from_args(args)


# --------------------------------------------------------------------- info
def _add_info(sub: Any) -> None:
    p = sub.add_parser("info", help="show the build and runtime configuration",
                       description="Print what zk_layers.show_config() prints.")
    p.set_defaults(run=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from ._config import show_config

    show_config()
    return 0


# ---------------------------------------------------------------------- book
def _add_book(sub: Any) -> None:
    """``zk-layers book run|check``: the book's own scripts (zk_layers/book/_run.py, _check.py)."""
    from .book._cli import add_book_parser

    add_book_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zk-layers",
        description="Chapter 5 of Deep Learning from Scratch on fast compiled layers.")
    parser.add_argument("--version", action="version", version=f"zk_layers {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (_add_train, _add_gradcheck, _add_shopping, _add_bench, _add_info, _add_book):
        add(sub)
    return parser


def run_command(args: argparse.Namespace, name: str) -> int:
    """Run the parsed command ``zk-layers <name>``: its exit status; a
    missing file or a bad value is one line on stderr and status 1, an
    interrupt status 130."""
    try:
        return int(args.run(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"zk-layers {name}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args, args.command)
