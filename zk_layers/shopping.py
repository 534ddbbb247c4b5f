"""The seminar's shopping exercise: a computational graph of MulLayer/AddLayer.

Polina buys ``apples`` apples and ``oranges`` oranges every day at a Russian
supermarket and pays the consumption tax (VAT) on top.  Forward through the
graph gives the bill; backward from d(price) = 1 gives how the bill reacts
to every input.  Because the bill is linear in each input separately, a
gradient times a change answers "how much more does she pay?" exactly;
the report checks every answer by computing the bill again.
"""
from __future__ import annotations

from dataclasses import dataclass

from ._graph import AddLayer, MulLayer

__all__ = ["ShoppingGraph", "shopping_graph", "shopping_report"]


@dataclass(frozen=True)
class ShoppingGraph:
    """Every forward value and every gradient of the shopping graph."""

    apple: float
    apples: int
    orange: float
    oranges: int
    tax: float  # the factor 1 + rate, e.g. 1.2 for 20 %
    apple_price: float
    orange_price: float
    all_price: float
    price: float
    dapple: float
    dapples: float
    dorange: float
    doranges: float
    dapple_price: float
    dorange_price: float
    dall_price: float
    dtax: float


def shopping_graph(apple: float, apples: int, orange: float, oranges: int, tax_percent: float) -> ShoppingGraph:
    """Run the graph forward and backward (the book's section 5.4.2, in rubles)."""
    tax = 1 + tax_percent / 100
    mul_apple, mul_orange, add_fruit, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, apples)
    orange_price = mul_orange.forward(orange, oranges)
    all_price = add_fruit.forward(apple_price, orange_price)
    price = mul_tax.forward(all_price, tax)
    dall_price, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add_fruit.backward(dall_price)
    dorange, doranges = mul_orange.backward(dorange_price)
    dapple, dapples = mul_apple.backward(dapple_price)
    return ShoppingGraph(apple, apples, orange, oranges, tax, apple_price, orange_price, all_price, price,
                         dapple, dapples, dorange, doranges, dapple_price, dorange_price, dall_price, dtax)


def _draw_graph(g: ShoppingGraph) -> list[str]:
    """The graph of the book's figure 5-17 in box-drawing characters."""
    grid = [[" "] * 110 for _ in range(9)]

    def put(row: int, col: int, text: str) -> int:
        grid[row][col:col + len(text)] = list(text)
        return col + len(text)  # first column after the text

    def value(v: float) -> str:
        return f"{v:>9.2f}" if isinstance(v, float) else f"{v:>9d}"

    def grad(v: float) -> str:
        return f"[{v:>8.4g}]"

    # Inputs (left column): value on the edge, gradient under it.
    corner = put(0, 2, f"apple   {value(g.apple)} ──")
    put(0, corner, "┐")
    put(1, 10, grad(g.dapple))
    put(2, 2, f"apples  {value(g.apples)} ──┘")
    put(3, 10, grad(g.dapples))
    put(4, 2, f"orange  {value(g.orange)} ──┐")
    put(5, 10, grad(g.dorange))
    put(6, 2, f"oranges {value(g.oranges)} ──┘")
    put(7, 10, grad(g.doranges))
    # First multiplications.
    end_apple = put(1, corner, f"├─(×)─ apple_price  {value(g.apple_price)} ──")
    end_orange = put(5, corner, f"├─(×)─ orange_price {value(g.orange_price)} ──")
    put(2, corner + 20, grad(g.dapple_price))
    put(6, corner + 20, grad(g.dorange_price))
    join = max(end_apple, end_orange)
    put(1, end_apple, "─" * (join - end_apple) + "┐")
    put(5, end_orange, "─" * (join - end_orange) + "┘")
    put(2, join, "│")
    put(4, join, "│")
    # The addition.
    end_all = put(3, join, f"├─(+)─ all_price {value(g.all_price)} ──┐")
    top = end_all - 1
    put(4, join + 17, grad(g.dall_price))
    # The tax multiplication.
    put(5, top, "├─(×)─ price " + value(g.price))
    put(6, top + 13, grad(1.0))
    tax_text = f"tax (1 + rate) {value(g.tax)} ──"
    put(7, top - len(tax_text), tax_text)
    put(4, top, "│")
    put(6, top, "│")
    put(7, top, "┘")
    put(8, top - len(tax_text) + 15, grad(g.dtax))
    return ["".join(row).rstrip() for row in grid]


def shopping_report(apple: float = 100.0, apples: int = 2, orange: float = 150.0, oranges: int = 3,
                    tax_percent: float = 20.0, new_tax_percent: float = 10.0) -> str:
    """The graph with values and gradients, and the three questions answered."""
    g = shopping_graph(apple, apples, orange, oranges, tax_percent)

    def rub(value: float) -> str:
        return f"{value:,.2f} rub"

    lines = [
        f"Polina buys {apples} apples at {rub(apple)} and {oranges} oranges at {rub(orange)} every day; "
        f"consumption tax {tax_percent:g} %.",
        "",
        "Computational graph: forward value above each edge, d(price)/d(edge) below it [in brackets].",
        "",
        *_draw_graph(g),
        "",
        f"The bill: {rub(g.price)} a day.",
        "",
        "How much more does she pay when ...  (gradient × change, then checked by computing the bill again)",
    ]
    questions = [
        ("(1) apples cost 10 rubles more", g.dapple, 10.0,
         shopping_graph(apple + 10, apples, orange, oranges, tax_percent).price),
        ("(2) oranges cost 5 rubles more", g.dorange, 5.0,
         shopping_graph(apple, apples, orange + 5, oranges, tax_percent).price),
        (f"(3) the tax drops from {tax_percent:g} % to {new_tax_percent:g} %", g.dtax,
         (new_tax_percent - tax_percent) / 100,
         shopping_graph(apple, apples, orange, oranges, new_tax_percent).price),
    ]
    for text, gradient, change, recomputed in questions:
        predicted = gradient * change
        actual = recomputed - g.price
        verdict = "matches" if abs(predicted - actual) <= 1e-9 * max(1.0, abs(g.price)) else "DIFFERS"
        lines.append(f"  {text}: {gradient:g} × {change:+g} = {predicted:+,.2f} rub "
                     f"(recomputed bill {rub(recomputed)}: {actual:+,.2f} rub, {verdict})")
    return "\n".join(lines)
