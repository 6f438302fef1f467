"""Typed decoding of the two hot payloads of the order path, straight into the payload model.

The ``Data`` of a PlaceOrder / AmendOrder / CancelOrder answer (§5.10) and of an ``Orders``
publish (§5.11) are decoded by msgspec into Structs (no dict per object, no ``dict.get`` per
field) and turned into the :mod:`gateway.zenith.records` objects (``OrderActionResponse``,
``Order``) in the same step. The rule: a typed decode either gives exactly what the lenient
path (the generic decode, then ``OrderActionResponse.from_json`` / ``Order.from_json`` through
the orders service's helpers) gives for the same document, with nothing logged on either side,
or it refuses (raises one of ``protocol.DECODE_REFUSED``: msgspec's errors are ValueErrors,
the conversions raise what ``from_json`` would) and the caller takes the lenient path, which
decides (results, warnings, errors). It refuses every document the lenient path would log
about or read in another way: a missing required field, a null where one is required, a
malformed number or date, a non-object where an object belongs, a change whose ``Order`` is
partial (an R's ID and Account) or null, a number where text belongs.

How the equality holds: the text fields the model keeps as they come are typed ``str`` /
``str | None`` (msgspec checks them; any other JSON type is refused), the nested objects are
Structs, and every other field is ``Any``: the same values the generic decode makes
(``float_hook=Decimal``, last of duplicate keys wins, escaped keys unescaped, unknown keys
ignored), converted by the same expressions and helpers as ``from_json`` (a few inlined, see
below); only the source differs (a Struct attribute instead of ``dict.get``; an absent key is
the Struct's default ``None``, as ``get`` returns). A required field with no default is refused
when absent.
tests/zenith/test_records_typed.py compares both paths on named cases, seeded generated
documents and every frame of a simulator session. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from gateway.zenith.records import (
    Order,
    OrderActionResponse,
    OrderDetails,
    _build_details,
    _build_order,
    _build_response,
    _build_route,
    _fees,
    _is_object,
    _route,
    _style,
)
from gateway.zenith.values import (
    _SIDES,
    EMPTY_MAPPING,
    parse_date,
    parse_datetime,
    str_tuple,
    to_decimal,
)

__all__ = ["decode_action_answer", "decode_orders_publish"]

_UNSET: Any = msgspec.UNSET


class _Details(msgspec.Struct):
    Exchange: str
    Code: str
    Side: str
    Style: str | None = None
    Type: str | None = None
    LimitPrice: Any = None
    Quantity: Any = None
    HiddenQuantity: Any = None
    MinimumQuantity: Any = None
    Validity: str | None = None
    ExpiryDate: Any = None
    ShortType: str | None = None
    BrokerageSchedule: str | None = None
    Instructions: Any = None
    UnitType: str | None = None
    UnitAmount: Any = None
    Currency: str | None = None
    PhysicalDelivery: Any = None
    ExecutedQuantity: Any = None
    AveragePrice: Any = None


class _Order(msgspec.Struct):
    ID: str
    Account: str
    Status: str
    Details: _Details
    Route: Any = None
    Currency: str | None = None
    ExternalID: str | None = None
    DepthOrderID: str | None = None
    Exchange: str | None = None
    TradingMarket: str | None = None
    Style: str | None = None
    EstimatedFees: Any = None
    CurrentFees: Any = None
    EstimatedValue: Any = None
    CurrentValue: Any = None
    CreatedDate: Any = None
    UpdatedDate: Any = None
    Children: Any = None
    Condition: Any = None
    # Absent here means "read Details" (``obj.get(name, det.get(name))``): UNSET, not None.
    ExecutedQuantity: Any = _UNSET
    AveragePrice: Any = _UNSET


class _Answer(msgspec.Struct):
    Result: str
    RequestID: str | None = None
    Order: _Order | None = None
    Errors: Any = None
    EstimatedFees: Any = None
    EstimatedBrokerage: Any = None
    EstimatedTax: Any = None
    EstimatedValue: Any = None


class _Change(msgspec.Struct):
    O: Any = None  # noqa: E741 (the wire's name)
    Order: _Order | msgspec.UnsetType = _UNSET


# The conversions below are from_json's expressions with two shortcuts that give the same values:
# a field typed ``str`` / ``str | None`` above is already what ``str(x)`` / ``None if x is None
# else str(x)`` makes of it (any other JSON type is refused by msgspec, and the lenient path
# decides); a number that is None or a Decimal (the float_hook's, always finite: JSON number
# text) is what ``to_decimal`` returns for it, an int becomes ``Decimal(int)`` as in
# ``to_decimal``, and ``to_decimal`` is called for the rest (strings, anything else, with its
# checks and errors). The Route is OrderRoute.from_json's copy, inline.


def _details(d: _Details) -> OrderDetails:
    side = d.Side
    price, quantity, hidden, minimum = d.LimitPrice, d.Quantity, d.HiddenQuantity, d.MinimumQuantity
    amount = d.UnitAmount
    if price is not None and type(price) is not Decimal:
        price = Decimal(price) if type(price) is int else to_decimal(price)
    if quantity is not None and type(quantity) is not Decimal:
        quantity = Decimal(quantity) if type(quantity) is int else to_decimal(quantity)
    if hidden is not None:
        hidden = to_decimal(hidden)
    if minimum is not None:
        minimum = to_decimal(minimum)
    if amount is not None:
        amount = to_decimal(amount)
    expiry, instructions, pd = d.ExpiryDate, d.Instructions, d.PhysicalDelivery
    return _build_details(
        d.Exchange,
        d.Code,
        _SIDES.get(side, side) or "",
        _style(d.Style),
        d.Type,
        price,
        quantity,
        hidden,
        minimum,
        d.Validity,
        None if expiry is None else parse_date(expiry),
        d.ShortType,
        d.BrokerageSchedule,
        () if instructions is None else str_tuple(instructions),
        d.UnitType,
        amount,
        d.Currency,
        None if pd is None else bool(pd),
    )


def _order(o: _Order) -> Order:
    # Where Order.from_json would fall back to _informational (a warning and None), this raises
    # instead, and the lenient path decides.
    det = o.Details
    details = _details(det)
    updated = o.UpdatedDate
    executed, average = o.ExecutedQuantity, o.AveragePrice
    if executed is _UNSET:
        executed = det.ExecutedQuantity
    if average is _UNSET:
        average = det.AveragePrice
    estimated, current, children, cond = o.EstimatedValue, o.CurrentValue, o.Children, o.Condition
    if estimated is not None and type(estimated) is not Decimal:
        estimated = Decimal(estimated) if type(estimated) is int else to_decimal(estimated)
    if current is not None and type(current) is not Decimal:
        current = Decimal(current) if type(current) is int else to_decimal(current)
    if executed is not None and type(executed) is not Decimal:
        executed = Decimal(executed) if type(executed) is int else to_decimal(executed)
    if average is not None and type(average) is not Decimal:
        average = Decimal(average) if type(average) is int else to_decimal(average)
    estimated_fees, current_fees = o.EstimatedFees, o.CurrentFees
    route = o.Route
    if type(route) is dict:
        # OrderRoute.from_json inlined: a copy less the two named keys.
        extra = dict(route)
        algorithm, market = extra.pop("Algorithm", None), extra.pop("Market", None)
        if algorithm is None:
            raise ValueError("Route without Algorithm")
        route = _build_route(str(algorithm), None if market is None else str(market), extra)
    else:
        route = _route(route)
    return _build_order(
        o.ID,
        o.Account,
        o.Status,
        details,
        route,
        o.Currency,
        o.ExternalID,
        o.DepthOrderID,
        o.Exchange,
        o.TradingMarket,
        _style(o.Style),
        EMPTY_MAPPING if estimated_fees is None else (_fees(estimated_fees) or EMPTY_MAPPING),
        EMPTY_MAPPING if current_fees is None else (_fees(current_fees) or EMPTY_MAPPING),
        estimated,
        current,
        parse_datetime(o.CreatedDate),
        parse_datetime(updated),
        () if children is None else str_tuple(children),
        cond if cond is not None and _is_object(cond) else None,
        executed,
        average,
        str(updated or ""),
    )


def _response(r: _Answer) -> OrderActionResponse:
    fees = r.EstimatedFees
    fees = EMPTY_MAPPING if fees is None else _fees(fees)
    if not fees:
        # Older servers (§8.38): EstimatedBrokerage / EstimatedTax instead of EstimatedFees.
        brokerage, tax = r.EstimatedBrokerage, r.EstimatedTax
        if brokerage is not None or tax is not None:
            legacy = {"Brokerage": brokerage, "Tax": tax}
            fees = _fees({k: v for k, v in legacy.items() if v is not None})
    errors = r.Errors
    if isinstance(errors, str):
        errors = [errors]
    order, value = r.Order, r.EstimatedValue
    return _build_response(
        r.Result,
        r.RequestID,
        None if order is None else _order(order),
        tuple(str(e) for e in errors) if isinstance(errors, list) else (),
        fees,
        value if value is None or type(value) is Decimal else to_decimal(value),
    )


_answer_decode: Callable[[Any], _Answer] = msgspec.json.Decoder(_Answer, float_hook=Decimal).decode
_changes_decode: Callable[[Any], list[_Change]] = msgspec.json.Decoder(
    list[_Change], float_hook=Decimal).decode


def decode_action_answer(raw: Any) -> OrderActionResponse:
    """The Order Action Response in ``raw`` (the JSON text of a call's ``Data``: bytes, str or a
    ``msgspec.Raw``), or a refusal raised (module doc)."""
    return _response(_answer_decode(raw))


def decode_orders_publish(raw: Any) -> tuple[Order, ...]:
    """The Orders of the A/U changes of an ``Orders`` publish's ``Data`` ``raw``, in order. A change
    that is not an object, or whose ``Order`` is not a full Order (an R's ID and Account only, a
    null), refuses the publish."""
    out: list[Order] = []
    for change in _changes_decode(raw):
        order = change.Order
        op = change.O
        # As _published: only A/U changes that carry an "Order" key count, the rest is skipped.
        if order is not _UNSET and (op == "A" or op == "U"):
            out.append(_order(order))   # type: ignore[arg-type]
    return tuple(out)
