"""Two builds of zk_layers side by side: the N = 1 cost of every layer method
(and of the two-layer net's step, and of Affine at N = 8).

``python benchmarks/bench_before_after.py BEFORE AFTER [--rounds 9]`` takes
two source trees, each built in place (``setup.py build_ext --inplace``),
and alternates between them: each round runs one fresh interpreter per tree,
pinned to one core, one thread, which times every method at N = 1 (median
of 15 samples of 2,000 calls each); the table gives, per method, the
median over the rounds for each tree and the ratio.  Builds of one package
cannot share a process, so the interleaving is by process, round by round.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKER = r'''
import json, os, statistics, sys, time
os.sched_setaffinity(0, {0})
import numpy as np
import zk_layers as zk
zk.set_num_threads(1)
rng = np.random.default_rng(0)
x = rng.standard_normal((1, 50)); dout = rng.standard_normal((1, 50))
scores, labels = rng.standard_normal((1, 10)), np.array([3])
W, b, xa = rng.standard_normal((784, 50)), np.zeros(50), rng.standard_normal((1, 784))
images = rng.standard_normal((1, 1, 8, 8))
relu, sig, loss, aff = zk.Relu(), zk.Sigmoid(), zk.SoftmaxWithLoss(), zk.Affine(W, b)
conv = zk.Convolution(rng.standard_normal((2, 1, 3, 3)), np.zeros(2), 1, 1)
pool = zk.Pooling(2, 2, 2)
norm = zk.BatchNormalization(np.ones(50), np.zeros(50))
drop = zk.Dropout(0.5)
np.random.seed(0)
calls = {}
def add(name, setup, call):
    setup()
    calls[name] = call
add("Relu.forward", lambda: None, lambda: relu.forward(x))
add("Relu.backward", lambda: relu.forward(x), lambda: relu.backward(dout))
add("Sigmoid.forward", lambda: None, lambda: sig.forward(x))
add("Sigmoid.backward", lambda: sig.forward(x), lambda: sig.backward(dout))
add("Affine.forward", lambda: None, lambda: aff.forward(xa))
add("Affine.backward", lambda: aff.forward(xa), lambda: aff.backward(dout))
add("SoftmaxWithLoss.forward", lambda: None, lambda: loss.forward(scores, labels))
add("SoftmaxWithLoss.backward", lambda: loss.forward(scores, labels), lambda: loss.backward())
cout = conv.forward(images)
add("Convolution.forward", lambda: None, lambda: conv.forward(images))
add("Convolution.backward", lambda: conv.forward(images), lambda: conv.backward(cout))
pout = pool.forward(images)
add("Pooling.forward", lambda: None, lambda: pool.forward(images))
add("Pooling.backward", lambda: pool.forward(images), lambda: pool.backward(pout))
add("BatchNormalization.forward", lambda: None, lambda: norm.forward(x, train_flg=True))
add("BatchNormalization.backward", lambda: norm.forward(x, train_flg=True), lambda: norm.backward(dout))
add("Dropout.forward", lambda: None, lambda: drop.forward(x, train_flg=True))
add("Dropout.backward", lambda: drop.forward(x, train_flg=True), lambda: drop.backward(dout))
for name in ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"):
    opt = getattr(zk, name)()
    params, grads = {"W": W.copy(), "b": b.copy()}, {"W": W * 1e-3, "b": b + 1e-3}
    add(name + ".update", lambda: None, lambda opt=opt, p=params, g=grads: opt.update(p, g))
net, sgd = zk.TwoLayerNet(784, 50, 10), zk.SGD(0.1)
add("TwoLayerNet step (gradient + SGD)", lambda: None, lambda: sgd.update(net.params, net.gradient(xa, labels)))
x8, dout8 = rng.standard_normal((8, 784)), rng.standard_normal((8, 50))
aff8 = zk.Affine(W, b)
add("Affine forward + backward, N = 8", lambda: None, lambda: (aff8.forward(x8), aff8.backward(dout8)))
heavy = ("Affine", "update", "Convolution", "TwoLayerNet")
result = {}
reps = 2000
for name, call in calls.items():
    call()
samples = {name: [] for name in calls}
for _ in range(15):
    for name, call in calls.items():
        start = time.perf_counter()
        n = reps // (20 if any(word in name for word in heavy) else 1)
        for _ in range(n):
            call()
        samples[name].append((time.perf_counter() - start) / n * 1e6)
print(json.dumps({name: statistics.median(v) for name, v in samples.items()}))
'''


def run(tree: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True,
                          check=True, cwd="/")
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        results["before"].append(run(args.before))
        results["after"].append(run(args.after))
    print(f"medians over {args.rounds} alternating rounds, microseconds per call, 1 thread, one core")
    print("| call (N = 1 unless named) | before | after | after / before |")
    print("|---|---|---|---|")
    for name in results["before"][0]:
        before = statistics.median(r[name] for r in results["before"])
        after = statistics.median(r[name] for r in results["after"])
        print(f"| {name} | {before:.3f} | {after:.3f} | {after / before:.2f} |")


if __name__ == "__main__":
    main()
