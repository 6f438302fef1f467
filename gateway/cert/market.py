"""The deterministic certification market: the order's quantity chooses what happens (as Saxo's
tester does), so the same suite gives the same result every time. Free of I/O.

In certification the simulator runs with no market activity (empty books, nothing moves). Before a
partner's NewOrderSingle reaches the gateway, Plxtra's certification maker (account ``XS:0010``)
rests liquidity on the other side at the order's limit price (10.00 for a market order), by
quantity:

| OrderQty | what happens |
|---:|---|
| 100 | filled at once (the maker rests 100 on the other side) |
| 200 | 50 filled at once, the remaining 150 rests |
| 300 | rests untouched (for cancel, replace and status steps) |
| 400 | rests, then Plxtra cancels it (unsolicited cancel) after ``cancel_after`` seconds (3) |
| 999 | rejected by the gateway: above the certification session's max order quantity (900) |
| any other | rests untouched (market orders: cancelled by the venue, nothing to trade against) |

The table is the single source: the suites' prompts quote these quantities and the docs print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = ["CERT_ACCOUNT", "MAKER_ACCOUNT", "MARKET_PRICE", "MAX_ORDER_QTY", "RULES", "Plan", "plan_for"]

MAKER_ACCOUNT = "XS:0010"
CERT_ACCOUNT = "XS:0001"
MARKET_PRICE = Decimal("10.00")
MAX_ORDER_QTY = 900


@dataclass(frozen=True, slots=True)
class Plan:
    quantity: Decimal
    behaviour: str                     # fill | partial | rest | unsolicited-cancel | reject
    maker_quantity: Decimal | None     # liquidity to rest on the other side first
    cancel: bool = False               # Plxtra cancels the order after it rests
    text: str = ""


RULES: dict[int, tuple[str, int | None, bool, str]] = {
    100: ("fill", 100, False, "filled at once"),
    200: ("partial", 50, False, "50 filled at once, 150 rests"),
    300: ("rest", None, False, "rests untouched"),
    400: ("unsolicited-cancel", None, True, "rests, then cancelled by Plxtra"),
    999: ("reject", None, False, f"rejected: above the max order quantity {MAX_ORDER_QTY}"),
}


def plan_for(order_qty: str | None) -> Plan:
    """What the certification market does with an order of this OrderQty(38)."""
    try:
        qty = Decimal(order_qty or "0")
    except InvalidOperation:
        qty = Decimal(0)
    rule = RULES.get(int(qty)) if qty == qty.to_integral_value() else None
    if rule is None:
        return Plan(qty, "rest", None, text="rests untouched")
    behaviour, maker, cancel, text = rule
    return Plan(qty, behaviour, None if maker is None else Decimal(maker), cancel, text)


def rules_table() -> str:
    """The table as Markdown, for the README and the console."""
    lines = ["| OrderQty | what happens |", "|---:|---|"]
    lines += [f"| {qty} | {text} |" for qty, (_, _, _, text) in RULES.items()]
    return "\n".join(lines)
