"""Gradient check (book section 5.7.3): backprop against numerical differentiation.

Backpropagation is fast but easy to get wrong; numerical differentiation
(central differences, two forward passes per parameter) is slow but simple.
So we compute the gradients of the book's TwoLayerNet both ways on three
images of the embedded 8x8 digits and print, for every parameter, the mean
absolute difference — as the book's ``gradient_check.py`` does — together
with the time each method took and the number of forward passes the
numerical method needed.

Run:  python examples/gradient_check.py
"""
import time

import zk_layers as zk

(x_train, t_train), (x_test, t_test) = zk.load_digits(normalize=True, one_hot_label=False)
network = zk.TwoLayerNet(input_size=64, hidden_size=50, output_size=10, seed=0)

x_batch = x_train[:3]
t_batch = t_train[:3]

# The book's two lines, each timed.  Backprop is so quick that we take the
# best of a few calls (the first call of a process also pays for warming up).
backprop_seconds = float("inf")
for _ in range(5):
    start = time.perf_counter()
    grad_backprop = network.gradient(x_batch, t_batch)
    backprop_seconds = min(backprop_seconds, time.perf_counter() - start)

start = time.perf_counter()
grad_numerical = network.numerical_gradient(x_batch, t_batch)
numerical_seconds = time.perf_counter() - start

n_params = sum(p.size for p in network.params.values())
print(f"TwoLayerNet 64-50-10 ({n_params} parameters), 3 digits, backend {network.backend!r}")
print()
for key in ("W1", "b1", "W2", "b2"):
    diff = abs(grad_backprop[key] - grad_numerical[key]).mean()
    print(f"  {key}: mean |backprop - numerical| = {diff:.3e}")
print()
print(f"  backprop : {'1 forward + 1 backward pass':32s} {backprop_seconds * 1e3:9.3f} ms")
print(f"  numerical: {f'{2 * n_params} forward passes':32s} {numerical_seconds * 1e3:9.3f} ms")
print(f"  backprop was {numerical_seconds / backprop_seconds:,.0f} times faster")

# The same through zk.gradient_check, which also counts the forward passes.
print()
print("zk.gradient_check(network, x_batch, t_batch):")
results = zk.gradient_check(network, x_batch, t_batch)
for key, r in results.items():
    print(f"  {key}: mean abs diff {r.mean_abs_diff:.3e}, max abs diff {r.max_abs_diff:.3e},"
          f" {r.n_forward_passes} forward passes")

# Most of b2's difference is not backprop's error but the loss's eps: the
# book's cross-entropy takes log(y + 1e-7), whose exact derivative is not
# quite y - t.  With the exact cross-entropy (eps=0) it shrinks.
network.lastLayer = zk.SoftmaxWithLoss(eps=0)
print()
print("The same with the exact cross-entropy, SoftmaxWithLoss(eps=0):")
for key, r in zk.gradient_check(network, x_batch, t_batch).items():
    print(f"  {key}: mean abs diff {r.mean_abs_diff:.3e}")
