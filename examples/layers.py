"""Every layer of chapter 5, forward and backward, fast and reference side by side.

``zk.Relu``, ``zk.Sigmoid``, ``zk.Affine`` and ``zk.SoftmaxWithLoss`` run
compiled kernels; ``zk.reference`` holds the same classes in plain NumPy,
written like the book.  For each layer we feed both the same small arrays
and print the largest absolute difference of every output: they agree to
rounding.  (``MulLayer`` and ``AddLayer`` need no kernel: ``zk.MulLayer``
*is* ``zk.reference.MulLayer``.)

Also shown: ``Affine`` keeps the caller's ``W`` (an in-place update
``W -= lr * dW`` changes the next forward), and ``SoftmaxWithLoss`` with
class-index labels and with one-hot labels.

Run:  python examples/layers.py
"""
from typing import Any

import numpy as np

import zk_layers as zk

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
fast: Any  # the fast and the reference layer of each section below,
ref: Any   # a different class each time


def compare(name, fast, ref, against="reference"):
    """Print the largest difference between two computations of one output."""
    diff = np.max(np.abs(np.asarray(fast) - np.asarray(ref))) if np.size(fast) else 0.0
    print(f"  {name:8s} max |fast - {against}| = {diff:.1e}")


def fmt(a):
    """An array on one line."""
    return " ".join(np.array2string(np.asarray(a), separator=", ").split())


def section(title):
    print()
    print(title)
    print("-" * len(title))


# --------------------------------------------------------------- MulLayer / AddLayer
section("MulLayer and AddLayer (scalars, as in the shopping example)")
mul, add = zk.MulLayer(), zk.AddLayer()
print("  mul.forward(100, 2) =", mul.forward(100, 2), "  backward(1) =", mul.backward(1))
print("  add.forward(200, 450) =", add.forward(200, 450), "  backward(1) =", add.backward(1))
print("  zk.MulLayer is zk.reference.MulLayer:", zk.MulLayer is zk.reference.MulLayer)

# --------------------------------------------------------------- Relu
section("Relu: y = max(0, x); backward passes dout where x > 0")
x = np.array([[1.0, -0.5], [-2.0, 3.0]])
dout = np.array([[0.1, 0.2], [0.3, 0.4]])
fast, ref = zk.Relu(), zk.reference.Relu()
y_fast, y_ref = fast.forward(x), ref.forward(x)
dx_fast, dx_ref = fast.backward(dout), ref.backward(dout)
print("  x    =", fmt(x))
print("  mask =", fmt(fast.mask), "(x <= 0)")
print("  y    =", fmt(y_fast))
print("  dx   =", fmt(dx_fast))
compare("y", y_fast, y_ref)
compare("dx", dx_fast, dx_ref)
print("  dout untouched (the book's Relu writes into it):", fmt(dout))

# --------------------------------------------------------------- Sigmoid
section("Sigmoid: y = 1 / (1 + exp(-x)); dx = dout * y * (1 - y)")
x = np.array([-800.0, -1.0, 0.0, 1.0, 30.0])
dout = np.ones_like(x)
fast, ref = zk.Sigmoid(), zk.reference.Sigmoid()
y_fast, y_ref = fast.forward(x), ref.forward(x)
dx_fast, dx_ref = fast.backward(dout), ref.backward(dout)
print("  x  =", fmt(x))
print("  y  =", fmt(y_fast), "(no overflow warning at x = -800)")
print("  dx =", fmt(dx_fast))
compare("y", y_fast, y_ref)
compare("dx", dx_fast, dx_ref)

# --------------------------------------------------------------- Affine
section("Affine: Y = X W + b; dX = dY W^T, dW = X^T dY, db = sum of dY over the batch")
X = rng.standard_normal((4, 3))
W = rng.standard_normal((3, 2))
b = rng.standard_normal(2)
dY = rng.standard_normal((4, 2))
fast, ref = zk.Affine(W, b), zk.reference.Affine(W.copy(), b.copy())
Y_fast, Y_ref = fast.forward(X), ref.forward(X)
dX_fast, dX_ref = fast.backward(dY), ref.backward(dY)
compare("Y", Y_fast, Y_ref)
compare("dX", dX_fast, dX_ref)
compare("dW", fast.dW, ref.dW)
compare("db", fast.db, ref.db)
print("  shapes: X", X.shape, " W", W.shape, " Y", Y_fast.shape, " dW", fast.dW.shape, " db", fast.db.shape)

print("  The layer keeps *our* W (no copy):  fast.W is W ->", fast.W is W)
before = fast.forward(X)
lr = 0.1
W -= lr * fast.dW          # the book's update, in place
b -= lr * fast.db
after = fast.forward(X)
print(f"  after W -= {lr} * dW, the same X gives a different Y:"
      f" max |Y_after - Y_before| = {np.max(np.abs(after - before)):.3f}")
compare("Y_after", after, X @ W + b, against="NumPy X @ W + b with the updated W")

images = rng.standard_normal((2, 1, 2, 3))   # (N, C, H, W): flattened to (N, 6) inside
conv_like = zk.Affine(rng.standard_normal((6, 4)), np.zeros(4))
out = conv_like.forward(images)
dimages = conv_like.backward(np.ones_like(out))
assert dimages is not None  # None only for Affine(..., need_dx=False)
print("  4-D input", images.shape, "-> output", out.shape, "; dx has the input's shape", dimages.shape)

# --------------------------------------------------------------- SoftmaxWithLoss
section("SoftmaxWithLoss: loss = cross-entropy of softmax(x); dx = (y - t) / N")
scores = np.array([[0.3, 2.9, 4.0],
                   [2.0, 0.1, -1.0]])
t_index = np.array([2, 0])                     # class indices, shape (N,)
t_onehot = np.array([[0, 0, 1], [1, 0, 0]])    # the same labels one-hot, shape (N, C)
for label, t in [("index", t_index), ("one-hot", t_onehot)]:
    fast, ref = zk.SoftmaxWithLoss(), zk.reference.SoftmaxWithLoss()
    loss_fast, loss_ref = fast.forward(scores, t), ref.forward(scores, t)
    dx_fast, dx_ref = fast.backward(), ref.backward()
    print(f"  labels {label:7s}: loss = {loss_fast:.6f}   dx = {fmt(dx_fast)}")
    compare("loss", loss_fast, loss_ref)
    compare("dx", dx_fast, dx_ref)
print("  softmax y =", fmt(fast.y))
print("  (y - onehot(t)) / N =", fmt((fast.y - t_onehot) / len(scores)))

# --------------------------------------------------------------- bigger arrays, float32
section("The same at the book's size (batch 100, 784 -> 50), float64 and float32")
for dtype in (np.float64, np.float32):
    X = rng.standard_normal((100, 784)).astype(dtype)
    W = (0.01 * rng.standard_normal((784, 50))).astype(dtype)
    b = np.zeros(50, dtype)
    dY = rng.standard_normal((100, 50)).astype(dtype)
    fast, ref = zk.Affine(W, b), zk.reference.Affine(W, b)
    relu_fast, relu_ref = zk.Relu(), zk.reference.Relu()
    h_fast = relu_fast.forward(fast.forward(X))
    h_ref = relu_ref.forward(ref.forward(X))
    dX_fast = fast.backward(relu_fast.backward(dY))
    dX_ref = ref.backward(relu_ref.backward(dY))
    print(f"  {np.dtype(dtype).name}: output dtype {h_fast.dtype}")
    compare("h", h_fast, h_ref)
    compare("dX", dX_fast, dX_ref)
    compare("dW", fast.dW, ref.dW)
