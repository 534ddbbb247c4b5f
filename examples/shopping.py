"""Polina's shopping: backpropagation on a computational graph (book section 5.4).

Polina buys 2 apples at 100 rubles and 3 oranges at 150 rubles every day at
a Russian supermarket and pays 20 % VAT on top.  The bill is a
computational graph of multiplication and addition nodes::

    apple ×  apples  ─(×)─ apple_price  ┐
                                        ├─(+)─ all_price ─(×)─ price
    orange × oranges ─(×)─ orange_price ┘               tax ┘

Forward gives the bill; backward from d(price) = 1 gives how the bill
reacts to every input.  We then answer three questions with the gradient
alone and check each answer by computing the bill again:

1. apples cost 10 rubles more;
2. oranges cost 5 rubles more;
3. the VAT drops from 20 % to 10 %.

Run:  python examples/shopping.py
"""
import zk_layers as zk
from zk_layers.shopping import shopping_graph

apple, apples = 100, 2      # rubles per apple, number of apples
orange, oranges = 150, 3    # rubles per orange, number of oranges
tax = 1.2                   # VAT 20 %: the bill is multiplied by 1 + 0.20

# The four nodes of the graph: multiplication (乗算レイヤ) and addition (加算レイヤ).
mul_apple_layer = zk.MulLayer()
mul_orange_layer = zk.MulLayer()
add_apple_orange_layer = zk.AddLayer()
mul_tax_layer = zk.MulLayer()

# Forward (順伝播): from the inputs to the bill.
apple_price = mul_apple_layer.forward(apple, apples)                     # 200
orange_price = mul_orange_layer.forward(orange, oranges)                 # 450
all_price = add_apple_orange_layer.forward(apple_price, orange_price)    # 650
price = mul_tax_layer.forward(all_price, tax)                            # 780

# Backward (逆伝播): from d(price)/d(price) = 1 back to every input, in reverse order.
dprice = 1
dall_price, dtax = mul_tax_layer.backward(dprice)
dapple_price, dorange_price = add_apple_orange_layer.backward(dall_price)
dorange, doranges = mul_orange_layer.backward(dorange_price)
dapple, dapples = mul_apple_layer.backward(dapple_price)

print("The bill")
print(f"  apples   {apples} x {apple} rub  = {apple_price:8.2f} rub")
print(f"  oranges  {oranges} x {orange} rub  = {orange_price:8.2f} rub")
print(f"  subtotal               = {all_price:8.2f} rub")
print(f"  with VAT 20 % (x {tax})  = {price:8.2f} rub")
print()
print("Gradients d(price)/d(input)")
for name, value in [("apple", dapple), ("apples", dapples), ("orange", dorange), ("oranges", doranges),
                    ("apple_price", dapple_price), ("orange_price", dorange_price),
                    ("all_price", dall_price), ("tax", dtax)]:
    print(f"  d(price)/d({name}){'':{14 - len(name)}s}= {value:g}")
print()

# The bill is linear in each input on its own, so gradient x change is exact.
print("How much more does Polina pay?  (gradient x change, checked by recomputing the bill)")
questions = [
    ("(1) apples +10 rub", dapple, 10, shopping_graph(apple + 10, apples, orange, oranges, 20).price),
    ("(2) oranges +5 rub", dorange, 5, shopping_graph(apple, apples, orange + 5, oranges, 20).price),
    ("(3) VAT 20 % -> 10 %", dtax, 1.1 - tax, shopping_graph(apple, apples, orange, oranges, 10).price),
]
for text, grad, change, new_price in questions:
    predicted = grad * change
    actual = new_price - price
    check = "ok" if abs(predicted - actual) < 1e-9 else "MISMATCH"
    print(f"  {text:21s}: {grad:g} x {change:+.2f} = {predicted:+.2f} rub;"
          f" recomputed bill {new_price:.2f} rub, {actual:+.2f} rub ({check})")
