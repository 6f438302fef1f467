"""Order conditions (spec §5.2 Order Condition object, §7.B): parsing, trigger and trailing arithmetic.

Pure: no engine state. A request's ``Condition`` becomes a :class:`ConditionSpec` (or a
:class:`Rejection` naming the field, §5.10 mapping); the engine keeps the order off-book while the
condition holds it and asks :func:`is_triggered` / :func:`trailed` on every reference event.

Semantics chosen where §7.B leaves room (the trigger and queueing rules are in :mod:`gateway.sim.stops`):

* A held order has status ``Waiting`` (not routed: no ``Exchange``/``DepthOrderID``; Reason
  ``Normal,Waiting``; Allows ``Amend,Cancel``, never ``Trade``), served by ``QueryOrderStatuses``.
  On trigger it becomes ``OnMarket`` (then fills) exactly as a new order of its Details would.
* Error codes (Appendix E has none for conditions): ``Condition.Name`` (missing: ``Incomplete``;
  unknown: ``Invalid``), ``Condition.Stop`` (not positive, off the tick table, or no reference
  price to default to), ``Condition.Stop {tick}`` (not a multiple of the tick), ``Condition.Reference``,
  ``Condition.Direction``, ``Condition.Type``, ``Condition.Value``, ``Condition.Limit`` (all
  ``Invalid``); a ``TrailingStopLoss`` without ``Type``/``Value``/``Limit`` is ``Incomplete``
  naming them. A Condition of the wrong JSON type is ``Data.Deserialise``.
* The Order (and Order Request) ``Condition`` echoes the resolved condition: the effective ``Stop``
  (a trailing stop's current one), ``Reference`` and the effective ``Direction`` (``Up``/``Down``).
* AmendOrder without ``Condition`` keeps the order's; with one, a held order takes the new
  condition (a changed condition re-resolves a defaulted stop); once triggered the condition is
  fixed (a different one is ``Rejected Order.Status``). While held, any order type may be amended
  (stop-limit <-> stop-market).

* ``Reference`` defaults to ``Last``; ``Direction`` ``None`` (or omitted) is inferred from the side:
  a buy stop triggers when the reference rises to or above ``Stop`` (``Up``), a sell stop when it
  falls to or below (``Down``).
* ``Stop`` omitted: the latest reference price at placement (``Last`` = last trade, else the
  previous close; ``BestBid``/``BestAsk`` = that side's best, and ``Invalid Condition.Stop`` when the
  side is empty). A ``TrailingStopLoss`` without ``Stop`` starts ``Value`` away from that price.
* ``TrailingStopLoss`` orders enter the book as limit orders at ``Limit``: their Details are
  normalised to ``Type`` ``Limit`` with ``LimitPrice`` = ``Limit`` (a Details ``LimitPrice`` that
  differs is ``Invalid Condition.Limit``).
* The stop trails in the favourable direction only: for a ``Down`` trigger it rises with the
  reference (``reference - Value`` or ``reference * (1 - Value%)``, rounded down to the tick), for an
  ``Up`` trigger it falls (rounded up).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from gateway.sim.orders import OrderSpec, Rejection, _price_error, _step_of, condition_json
from gateway.sim.wire import DataError, opt_decimal

__all__ = [
    "CONDITION_NAMES",
    "ConditionSpec",
    "condition_json",
    "initial_stop",
    "is_triggered",
    "keep_condition",
    "parse_condition",
    "same_condition",
    "trailed",
]

CONDITION_NAMES = ("StopLoss", "TrailingStopLoss")
REFERENCES = ("Last", "BestBid", "BestAsk")
DIRECTIONS = ("None", "Up", "Down")
TRAIL_TYPES = ("Price", "Percent")
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """A validated Order Condition, as requested (the order keeps its current stop separately)."""

    name: str  # StopLoss | TrailingStopLoss
    stop: Decimal | None  # requested stop; None = default from the reference at placement
    reference: str  # Last | BestBid | BestAsk
    direction: str  # None | Up | Down, as requested
    rising: bool  # the effective direction: True = triggers when the reference rises to the stop
    trail_type: str | None = None  # Price | Percent (TrailingStopLoss only)
    trail_value: Decimal | None = None
    limit: Decimal | None = None

    @property
    def trailing(self) -> bool:
        return self.name == "TrailingStopLoss"


def _str_field(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise DataError(f"Condition.{key}")
    return value


def parse_condition(
    raw: Any, spec: OrderSpec, market: Any, sym_cfg: Any
) -> tuple[OrderSpec, ConditionSpec] | Rejection | None:
    """Validate ``Condition`` for an order of ``spec``. None = no condition. Returns the (possibly
    normalised, for trailing stops) spec with the condition. Raises DataError on wrong JSON types."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise DataError("Condition")
    name = _str_field(raw, "Name")
    reference = _str_field(raw, "Reference") or "Last"
    direction = _str_field(raw, "Direction") or "None"
    trail_type = _str_field(raw, "Type")
    stop = opt_decimal(raw, "Stop")
    value = opt_decimal(raw, "Value")
    limit = opt_decimal(raw, "Limit")
    if name is None:
        return Rejection("Incomplete", ("Condition.Name",))
    if name not in CONDITION_NAMES:
        return Rejection("Invalid", ("Condition.Name",))
    trailing = name == "TrailingStopLoss"
    if trailing:
        missing = [
            f"Condition.{key}"
            for key, v in (("Type", trail_type), ("Value", value), ("Limit", limit))
            if v is None
        ]
        if missing:
            return Rejection("Incomplete", tuple(missing))
    errors: list[str] = []
    if stop is not None:
        if stop <= 0:
            errors.append("Condition.Stop")
        else:
            tick = _step_of(market.tick_tables.get(sym_cfg.tick_table, ()), stop)
            if tick is None:
                errors.append("Condition.Stop")
            elif stop % tick != 0:
                errors.append(f"Condition.Stop {tick}")
    if reference not in REFERENCES:
        errors.append("Condition.Reference")
    if direction not in DIRECTIONS:
        errors.append("Condition.Direction")
    if trailing:
        assert value is not None and limit is not None
        if trail_type not in TRAIL_TYPES:
            errors.append("Condition.Type")
        if value <= 0 or (trail_type == "Percent" and value >= HUNDRED):
            errors.append("Condition.Value")
        bad_limit = _price_error(market, sym_cfg.tick_table, limit) is not None
        if bad_limit or (spec.type == "Limit" and spec.limit_price != limit):
            errors.append("Condition.Limit")
    if errors:
        return Rejection("Invalid", tuple(errors))
    rising = direction == "Up" or (direction == "None" and spec.side == "Bid")
    cond = ConditionSpec(
        name=name,
        stop=stop,
        reference=reference,
        direction=direction,
        rising=rising,
        trail_type=trail_type if trailing else None,
        trail_value=value if trailing else None,
        limit=limit if trailing else None,
    )
    if trailing and (spec.type != "Limit" or spec.limit_price != limit):
        spec = dataclasses.replace(spec, type="Limit", limit_price=limit)
    return spec, cond


def is_triggered(cond: ConditionSpec, stop: Decimal, reference: Decimal) -> bool:
    return reference >= stop if cond.rising else reference <= stop


def _tick_round(price: Decimal, tick: Decimal | None, up: bool) -> Decimal:
    if not tick:
        return price
    steps = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return steps * tick


def _trail_from(cond: ConditionSpec, reference: Decimal, ticks: tuple[Any, ...]) -> Decimal:
    """The stop ``Value`` (or ``Value`` %) away from ``reference``, on the far side of the trigger."""
    assert cond.trail_value is not None
    if cond.trail_type == "Percent":
        factor = (HUNDRED + cond.trail_value) if cond.rising else (HUNDRED - cond.trail_value)
        raw = reference * factor / HUNDRED
    else:
        raw = reference + cond.trail_value if cond.rising else reference - cond.trail_value
    return _tick_round(raw, _step_of(ticks, reference), up=cond.rising)


def initial_stop(cond: ConditionSpec, reference: Decimal, ticks: tuple[Any, ...]) -> Decimal:
    """The effective stop at placement: the requested one, else derived from ``reference``."""
    if cond.stop is not None:
        return cond.stop
    if cond.trailing:
        return _trail_from(cond, reference, ticks)
    return reference


def trailed(cond: ConditionSpec, stop: Decimal, reference: Decimal, ticks: tuple[Any, ...]) -> Decimal:
    """A trailing stop after the reference printed ``reference``: it only moves favourably."""
    if not cond.trailing:
        return stop
    candidate = _trail_from(cond, reference, ticks)
    if candidate <= 0:
        return stop
    return min(stop, candidate) if cond.rising else max(stop, candidate)


def keep_condition(spec: OrderSpec, cond: ConditionSpec | None) -> tuple[OrderSpec, ConditionSpec | None]:
    """An AmendOrder without ``Condition`` keeps the order's. A trailing stop is a limit order at
    ``Limit``: a Details ``LimitPrice`` becomes the new ``Limit``, other order types are normalised."""
    if cond is None or not cond.trailing:
        return spec, cond
    if spec.type == "Limit" and spec.limit_price is not None:
        if spec.limit_price != cond.limit:
            cond = dataclasses.replace(cond, limit=spec.limit_price)
        return spec, cond
    return dataclasses.replace(spec, type="Limit", limit_price=cond.limit), cond


def same_condition(a: ConditionSpec | None, b: ConditionSpec | None) -> bool:
    """Equal conditions, ignoring a trailing stop's ``Limit`` (it is the order's limit price)."""
    if a is None or b is None:
        return a is b
    return dataclasses.replace(a, limit=None) == dataclasses.replace(b, limit=None)
