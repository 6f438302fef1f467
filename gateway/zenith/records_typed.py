"""Typed decoding of the two hot payloads of the order path, straight into the payload model.

The ``Data`` of a PlaceOrder / AmendOrder / CancelOrder answer (§5.10) and of an ``Orders``
publish (§5.11) are decoded by msgspec into Structs (no dict per object, no ``dict.get`` per
field) and turned into the :mod:`gateway.zenith.records` objects (``OrderActionResponse``,
``Order``) in the same step. The rule: a typed decode either gives exactly what the lenient
path (the generic decode, then ``OrderActionResponse.from_json`` / ``Order.from_json`` through
the orders service's helpers) gives for the same document, with nothing logged on either side,
or it refuses (raises one of ``protocol.DECODE_REFUSED``: msgspec's errors are ValueErrors, the
conversions raise what ``from_json`` would) and the caller takes the lenient path, which decides (results,
warnings, errors). It refuses every document the lenient path would log about or read in
another way: a missing required field, a null where one is required, a malformed number or
date, a non-object where an object belongs, a change that is not an A/U with a full Order.

How the equality holds: every field is typed ``Any`` (the same values the generic decode makes:
``float_hook=Decimal``, last of duplicate keys wins, unknown keys ignored) except the nested
objects, and each is converted by the same expressions and helpers as ``from_json``; only the
source differs (a Struct attribute instead of ``dict.get``; an absent key is the Struct's
default ``None``, as ``get`` returns). A required field with no default is refused when absent.
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
    _fees,
    _is_object,
    _route,
    _style,
)
from gateway.zenith.values import (
    EMPTY_MAPPING,
    normalize_side,
    parse_date,
    parse_datetime,
    str_tuple,
    to_decimal,
)

__all__ = ["decode_action_answer", "decode_orders_publish"]

_UNSET: Any = msgspec.UNSET


class _Details(msgspec.Struct):
    Exchange: Any
    Code: Any
    Side: Any
    Style: Any = None
    Type: Any = None
    LimitPrice: Any = None
    Quantity: Any = None
    HiddenQuantity: Any = None
    MinimumQuantity: Any = None
    Validity: Any = None
    ExpiryDate: Any = None
    ShortType: Any = None
    BrokerageSchedule: Any = None
    Instructions: Any = None
    UnitType: Any = None
    UnitAmount: Any = None
    Currency: Any = None
    PhysicalDelivery: Any = None
    ExecutedQuantity: Any = None
    AveragePrice: Any = None


class _Order(msgspec.Struct):
    ID: Any
    Account: Any
    Status: Any
    Details: _Details
    Route: Any = None
    Currency: Any = None
    ExternalID: Any = None
    DepthOrderID: Any = None
    Exchange: Any = None
    TradingMarket: Any = None
    Style: Any = None
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
    Result: Any
    RequestID: Any = None
    Order: _Order | None = None
    Errors: Any = None
    EstimatedFees: Any = None
    EstimatedBrokerage: Any = None
    EstimatedTax: Any = None
    EstimatedValue: Any = None


class _Change(msgspec.Struct):
    O: Any = None  # noqa: E741 (the wire's name)
    Order: _Order | msgspec.UnsetType = _UNSET


def _details(d: _Details) -> OrderDetails:
    # OrderDetails.from_json's expressions, field by field.
    exchange, code, side = d.Exchange, d.Code, d.Side
    if exchange is None or code is None or side is None:
        raise ValueError("required Details field null")
    kind, validity, expiry = d.Type, d.Validity, d.ExpiryDate
    instructions, pd = d.Instructions, d.PhysicalDelivery
    short_type, schedule, unit_type, currency = d.ShortType, d.BrokerageSchedule, d.UnitType, d.Currency
    return _build_details(
        str(exchange),
        str(code),
        normalize_side(side) or "",
        _style(d.Style),
        None if kind is None else str(kind),
        to_decimal(d.LimitPrice),
        to_decimal(d.Quantity),
        to_decimal(d.HiddenQuantity),
        to_decimal(d.MinimumQuantity),
        None if validity is None else str(validity),
        None if expiry is None else parse_date(expiry),
        None if short_type is None else str(short_type),
        None if schedule is None else str(schedule),
        () if instructions is None else str_tuple(instructions),
        None if unit_type is None else str(unit_type),
        to_decimal(d.UnitAmount),
        None if currency is None else str(currency),
        None if pd is None else bool(pd),
    )


def _order(o: _Order) -> Order:
    # Order.from_json's expressions; where it would fall back to _informational (a warning and
    # None) this raises instead, and the lenient path decides.
    oid, account, status = o.ID, o.Account, o.Status
    if oid is None or account is None or status is None:
        raise ValueError("required Order field null")
    det = o.Details
    details = _details(det)
    updated = o.UpdatedDate
    executed, average = o.ExecutedQuantity, o.AveragePrice
    if executed is _UNSET:
        executed = det.ExecutedQuantity
    if average is _UNSET:
        average = det.AveragePrice
    currency, external_id, depth_order_id, exchange, trading_market, children, cond = (
        o.Currency, o.ExternalID, o.DepthOrderID, o.Exchange, o.TradingMarket, o.Children, o.Condition)
    return _build_order(
        str(oid),
        str(account),
        str(status),
        details,
        _route(o.Route),
        None if currency is None else str(currency),
        None if external_id is None else str(external_id),
        None if depth_order_id is None else str(depth_order_id),
        None if exchange is None else str(exchange),
        None if trading_market is None else str(trading_market),
        _style(o.Style),
        _fees(o.EstimatedFees) or EMPTY_MAPPING,
        _fees(o.CurrentFees) or EMPTY_MAPPING,
        to_decimal(o.EstimatedValue),
        to_decimal(o.CurrentValue),
        parse_datetime(o.CreatedDate),
        parse_datetime(updated),
        () if children is None else str_tuple(children),
        cond if cond is not None and _is_object(cond) else None,
        to_decimal(executed),
        to_decimal(average),
        str(updated or ""),
    )


def _response(r: _Answer) -> OrderActionResponse:
    # OrderActionResponse.from_json's expressions.
    fees = _fees(r.EstimatedFees)
    if not fees:
        brokerage, tax = r.EstimatedBrokerage, r.EstimatedTax
        if brokerage is not None or tax is not None:
            legacy = {"Brokerage": brokerage, "Tax": tax}
            fees = _fees({k: v for k, v in legacy.items() if v is not None})
    errors = r.Errors
    if isinstance(errors, str):
        errors = [errors]
    result, request_id, order = r.Result, r.RequestID, r.Order
    if result is None:
        raise ValueError("Result null")
    return _build_response(
        str(result),
        None if request_id is None else str(request_id),
        None if order is None else _order(order),
        tuple(str(e) for e in errors) if isinstance(errors, list) else (),
        fees,
        to_decimal(r.EstimatedValue),
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
