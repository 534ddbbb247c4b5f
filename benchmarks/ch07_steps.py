"""Estimate the wall time of the book's ch07/train_convnet.py (20 epochs, 12,000 Trainer steps) from
150 timed Trainer.train_step calls, with the book's layers ("book") or zk_layers' ("zk") put into
common.layers before simple_convnet imports them; one thread (OMP/OPENBLAS_NUM_THREADS=1).  The
estimate is 12,000 x the step time + 20 per-epoch evaluations (2 x 1,000 images) + the final
accuracy pass over 10,000 test images.  Usage: PYTHONPATH=. python benchmarks/ch07_steps.py zk 150
"""
import sys, os, time
side, steps = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path[0:0] = ["/work/book/ch07", "/work/book"]
os.chdir("/work/book/ch07")
import numpy as np
import common.layers as L
if side == "zk":
    import zk_layers as zk
    for name in ("Relu", "Affine", "SoftmaxWithLoss", "Convolution", "Pooling"):
        setattr(L, name, getattr(zk, name))
from dataset.mnist import load_mnist
from simple_convnet import SimpleConvNet
from common.trainer import Trainer
(x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
np.random.seed(0)
net = SimpleConvNet(input_dim=(1,28,28), conv_param={'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1}, hidden_size=100, output_size=10, weight_init_std=0.01)
tr = Trainer(net, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100, optimizer='Adam', optimizer_param={'lr': 0.001}, evaluate_sample_num_per_epoch=1000, verbose=False)
tr.train_step()  # iteration 0: includes the first epoch's evaluation on 2 x 1000 images
t0 = time.perf_counter()
for _ in range(steps): tr.train_step()
step = (time.perf_counter() - t0) / steps
t0 = time.perf_counter(); net.accuracy(x_train[:1000], t_train[:1000]); net.accuracy(x_test[:1000], t_test[:1000]); ev = time.perf_counter() - t0
t0 = time.perf_counter(); acc = net.accuracy(x_test, t_test); final = time.perf_counter() - t0
total = 12000 * step + 20 * ev + final
print(f"{side}: {step*1e3:.1f} ms/step (train_step: gradient + Adam + loss), per-epoch eval {ev*1e3:.0f} ms, final test accuracy pass {final:.1f} s -> estimated full run {total/60:.1f} min")
