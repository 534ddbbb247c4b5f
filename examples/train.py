"""Training the book's TwoLayerNet on the embedded 8x8 digits (book section 5.7.4).

The loop is the book's ``train_neuralnet.py`` written out: draw a random
minibatch, compute the gradient by backpropagation, take an SGD step, and
once per epoch measure the accuracy on the whole training and test sets.
Settings as in the book: 3,000 iterations (214 epochs of 14 minibatches
over the 1,438 training digits), batch 100, learning rate 0.1, 50 hidden
units.  The seeds are fixed, so every run prints the same numbers.  The
accuracies are measured every epoch, as in the book, and printed every
20th epoch.

At the end, the same network trained with Adam through ``zk.train``.

Run:  python examples/train.py
"""
import time

import numpy as np

import zk_layers as zk

(x_train, t_train), (x_test, t_test) = zk.load_digits(normalize=True, one_hot_label=False)
print(f"digits: {x_train.shape[0]} training and {x_test.shape[0]} test images of {x_train.shape[1]} pixels")

network = zk.TwoLayerNet(input_size=64, hidden_size=50, output_size=10, seed=0)
rng = np.random.default_rng(0)

iters_num = 3000
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

# The book computes max(train_size / batch_size, 1) = 600.0 for MNIST; with
# 1,438 digits that is 14.38 and `i % 14.38 == 0` would hold only at i = 0,
# so we round down to whole iterations.
iter_per_epoch = max(train_size // batch_size, 1)

start = time.perf_counter()
for i in range(iters_num):
    batch_mask = rng.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # Gradient
    # grad = network.numerical_gradient(x_batch, t_batch)   # the slow way, thousands of times slower
    grad = network.gradient(x_batch, t_batch)                # backpropagation

    # Update
    for key in ("W1", "b1", "W2", "b2"):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0 or i == iters_num - 1:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        epoch = i // iter_per_epoch
        if epoch % 20 == 0 or i == iters_num - 1:   # print every 20th epoch, and the end
            print(f"epoch {epoch:3d}  iter {i:4d}  loss {loss:.4f}  train acc {train_acc:.4f}  test acc {test_acc:.4f}")
seconds = time.perf_counter() - start

print(f"SGD: {iters_num} iterations in {seconds:.2f} s; final test accuracy {test_acc_list[-1]:.4f}")

# The same net, trained by zk.train with Adam (book chapter 6) at Adam's usual rate.
result = zk.train("digits", iterations=3000, batch_size=100, hidden_size=50,
                  optimizer="adam", learning_rate=0.001, seed=0)
print(f"Adam via zk.train: {len(result.losses)} iterations in {result.seconds:.2f} s; "
      f"final test accuracy {result.test_accuracy[-1]:.4f}")
