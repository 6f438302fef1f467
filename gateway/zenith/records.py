"""Typed views of Zenith payloads: frozen slotted dataclasses, Decimal numbers, aware datetimes.

Each ``from_json`` takes the decoded JSON object and tolerates the documented alternatives
(§8): ``B``/``A``/``S`` sides, ``Equity``/``Option`` classes, numbers sent as strings, every
date-time form of §3.2, ``EstimatedBrokerage``/``EstimatedTax`` when ``EstimatedFees`` is
missing, ``Alternate`` vs ``Alternates``, change wrappers around Holdings. A missing required
field raises :class:`ValueError` naming it. ``*_to_json`` build request bodies.

The records of the order path (Order, OrderDetails, OrderRoute, OrderActionResponse, Transaction)
are parsed inline and built without their dataclass ``__init__`` (:func:`_builder`): every Orders
change and every action answer builds one or more, and a frozen ``__init__`` cost more than the
parse. The objects are the same (type, equality, repr, immutability). On the order path the two
hottest payloads (an order action's answer, an ``Orders`` publish) are decoded straight into these
records by :mod:`gateway.zenith.records_typed`, which gives what ``from_json`` gives or refuses
(``from_json`` then decides): a change to a ``from_json`` here must be made there too
(tests/zenith/test_records_typed.py compares the two).

Market-data records live in :mod:`gateway.zenith.market_records` and are re-exported here;
Security (§4.11) has its own module, :mod:`gateway.zenith.security`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, make_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from gateway.zenith.market_records import (
    DepthOrderChange,
    LevelChange,
    MarketState,
    SymbolDetail,
    TradeChange,
    TradingState,
)
from gateway.zenith.values import (
    EMPTY_MAPPING,
    as_mapping,
    normalize_class,
    normalize_side,
    optional_str,
    parse_date,
    parse_datetime,
    required,
    split_code,
    split_comma,
    str_tuple,
    to_decimal,
)

__all__ = [
    "AccountState",
    "Balance",
    "DepthOrderChange",
    "Holding",
    "LevelChange",
    "MarketState",
    "Order",
    "OrderActionResponse",
    "OrderChange",
    "OrderDetails",
    "OrderRoute",
    "OrderStatus",
    "SymbolDetail",
    "TradeChange",
    "TradingState",
    "Transaction",
    "order_details_to_json",
    "order_route_to_json",
]



log = logging.getLogger(__name__)
_T = TypeVar("_T")


def _informational(parse: Callable[[Any], _T], obj: Mapping[str, Any], name: str, what: str) -> _T | None:
    """``parse(obj[name])``, or None with a warning when the value is malformed.

    For the fields the gateway only carries (fees, amounts, dates it does not report): a bad value
    there must not drop the whole Order or Transaction, which would lose a fill the gateway can
    read perfectly well. The fields the gateway acts on (IDs, status, quantities, prices) stay strict.
    """
    value = obj.get(name)
    try:
        return parse(value)
    except (ValueError, TypeError, ArithmeticError) as exc:
        log.warning("%s: field %s ignored, malformed value %.100r (%s)", what, name, value, exc)
        return None


def _missing(obj: Mapping[str, Any], name: str, what: str) -> ValueError:
    """The error :func:`~gateway.zenith.values.required` raises, for the inlined checks below."""
    return ValueError(f"{what}: required field {name!r} missing in {dict(obj)!r:.300}")


def _builder(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor (every field, in field order) of the frozen slotted dataclass ``cls``.

    A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__`` (~0.2 us a field:
    building the Order of an update cost more than parsing it). Here the fields are stored by the
    plain ``__init__`` of a mutable twin with the same slots, and the object's class is then set to
    ``cls`` (allowed between classes of the same layout): the result is an ordinary ``cls``
    instance, equal to what ``cls(...)`` builds, ~7x cheaper. For ``from_json`` only."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    if getattr(cls, "__slots__", None) != names:
        raise TypeError(f"{cls.__name__}: not a slotted dataclass with its fields as slots")
    twin = make_dataclass(f"_Build{cls.__name__}", names, slots=True, eq=False, repr=False, match_args=False)
    twin(*names).__class__ = cls  # the layouts match (checked now, not at the first frame)

    def build(*values: Any) -> _T:
        obj = twin(*values)
        obj.__class__ = cls
        return obj

    return build


def _style(style: Any) -> str:
    """Style (§5.2) of an order or transaction: "Market" unless another known class is named."""
    return "Market" if style is None or style == "Market" else (normalize_class(style) or "Market")


def _is_object(value: Any) -> bool:
    """A JSON object: a dict from the decoder (checked first: no ABC check), or any mapping."""
    return type(value) is dict or isinstance(value, Mapping)


def _fees(value: Any) -> Mapping[str, Decimal]:
    if value is None or not _is_object(value):
        return EMPTY_MAPPING
    return {str(k): d for k, v in value.items() if (d := to_decimal(v)) is not None}


def _route(value: Any) -> OrderRoute | None:
    return OrderRoute.from_json(value) if value is not None and _is_object(value) else None


# -- orders ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderDetails:
    """Order Details (§5.2): what to trade. Market-style fields and ManagedFund fields."""

    exchange: str
    code: str
    side: str                                  # "Bid" | "Ask"
    style: str = "Market"                      # "Market" | "ManagedFund"
    type: str | None = None                    # Limit | Best | Market | MarketToLimit
    limit_price: Decimal | None = None
    quantity: Decimal | None = None
    hidden_quantity: Decimal | None = None
    minimum_quantity: Decimal | None = None
    validity: str | None = None                # UntilCancel | UntilDay | FillAndKill | FillOrKill | AllOrNone
    expiry_date: date | None = None
    short_type: str | None = None
    brokerage_schedule: str | None = None
    instructions: tuple[str, ...] = ()
    unit_type: str | None = None
    unit_amount: Decimal | None = None
    currency: str | None = None
    physical_delivery: bool | None = None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> OrderDetails:
        # Inlined (no helper call per field) and built by _build_details: every Orders change and
        # action answer carries one. Same checks, values and errors as the helpers.
        get = obj.get
        exchange, code, side = get("Exchange"), get("Code"), get("Side")
        if exchange is None:
            raise _missing(obj, "Exchange", "Order Details")
        if code is None:
            raise _missing(obj, "Code", "Order Details")
        if side is None:
            raise _missing(obj, "Side", "Order Details")
        style, kind, validity = get("Style"), get("Type"), get("Validity")
        expiry, instructions, pd = get("ExpiryDate"), get("Instructions"), get("PhysicalDelivery")
        short_type, schedule, unit_type, currency = (
            get("ShortType"), get("BrokerageSchedule"), get("UnitType"), get("Currency"))
        return _build_details(
            str(exchange),
            str(code),
            normalize_side(side) or "",
            _style(style),
            None if kind is None else str(kind),
            to_decimal(get("LimitPrice")),
            to_decimal(get("Quantity")),
            to_decimal(get("HiddenQuantity")),
            to_decimal(get("MinimumQuantity")),
            None if validity is None else str(validity),
            None if expiry is None else parse_date(expiry),
            None if short_type is None else str(short_type),
            None if schedule is None else str(schedule),
            () if instructions is None else str_tuple(instructions),
            None if unit_type is None else str(unit_type),
            to_decimal(get("UnitAmount")),
            None if currency is None else str(currency),
            None if pd is None else bool(pd),
        )


def order_details_to_json(details: OrderDetails) -> dict[str, Any]:
    """Request body ``Details`` for PlaceOrder/AmendOrder; optional fields omitted when unset."""
    out: dict[str, Any] = {
        "Exchange": details.exchange, "Code": details.code, "Side": details.side, "Style": details.style,
    }
    optional = (
        ("Type", details.type), ("LimitPrice", details.limit_price), ("Quantity", details.quantity),
        ("HiddenQuantity", details.hidden_quantity), ("MinimumQuantity", details.minimum_quantity),
        ("Validity", details.validity),
        ("ExpiryDate", details.expiry_date.isoformat() if details.expiry_date else None),
        ("ShortType", details.short_type), ("BrokerageSchedule", details.brokerage_schedule),
        ("Instructions", list(details.instructions) or None), ("UnitType", details.unit_type),
        ("UnitAmount", details.unit_amount), ("Currency", details.currency),
        ("PhysicalDelivery", details.physical_delivery),
    )
    for name, value in optional:
        if value is not None:
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class OrderRoute:
    """Order Route (§5.2, Appendix C): ``Market`` algorithm names a trading market."""

    algorithm: str
    market: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> OrderRoute:
        # A copy less two keys: no comprehension (a function call and frame per Route on 3.11).
        extra = dict(obj)
        algorithm, market = extra.pop("Algorithm", None), extra.pop("Market", None)
        if algorithm is None:
            raise _missing(obj, "Algorithm", "Order Route")
        return _build_route(str(algorithm), None if market is None else str(market), extra)


def order_route_to_json(route: OrderRoute) -> dict[str, Any]:
    out: dict[str, Any] = {"Algorithm": route.algorithm}
    if route.market is not None:
        out["Market"] = route.market
    out.update(route.extra)
    return out


@dataclass(frozen=True, slots=True)
class Order:
    """Order object (§5.2) from ``Orders``, ``QueryOrders`` and action responses."""

    id: str
    account: str
    status: str
    details: OrderDetails
    route: OrderRoute | None
    currency: str | None = None
    external_id: str | None = None
    depth_order_id: str | None = None
    exchange: str | None = None
    trading_market: str | None = None
    style: str = "Market"
    estimated_fees: Mapping[str, Decimal] = field(default_factory=dict)
    current_fees: Mapping[str, Decimal] = field(default_factory=dict)
    estimated_value: Decimal | None = None
    current_value: Decimal | None = None
    created_date: datetime | None = None
    updated_date: datetime | None = None
    children: tuple[str, ...] = ()
    condition: Mapping[str, Any] | None = None
    executed_quantity: Decimal | None = None
    average_price: Decimal | None = None
    # UpdatedDate exactly as sent: the gateway's ExecIDs of suspend/resume reports are built from
    # it, and must come out the same after a restart or an upgrade (ARCHITECTURE §7).
    updated_text: str = ""

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Order:
        # The hottest parse of the order path (every Orders change, every action answer): inlined
        # and built by _build_order; same checks, values, warnings and errors as the helpers.
        what = "Order"
        get = obj.get
        oid, account, status, details = get("ID"), get("Account"), get("Status"), get("Details")
        if oid is None:
            raise _missing(obj, "ID", what)
        if account is None:
            raise _missing(obj, "Account", what)
        if status is None:
            raise _missing(obj, "Status", what)
        if details is None:
            raise _missing(obj, "Details", what)
        parsed_details = OrderDetails.from_json(details)
        # Fields the gateway only carries: a malformed one is dropped with a warning (_informational);
        # all of them in one try, and field by field (for the warnings) only when one fails.
        updated = get("UpdatedDate")
        try:
            route = _route(get("Route"))
            estimated_fees = _fees(get("EstimatedFees")) or EMPTY_MAPPING
            current_fees = _fees(get("CurrentFees")) or EMPTY_MAPPING
            estimated_value = to_decimal(get("EstimatedValue"))
            current_value = to_decimal(get("CurrentValue"))
            created_date = parse_datetime(get("CreatedDate"))
            updated_date = parse_datetime(updated)
        except (ValueError, TypeError, ArithmeticError):
            route = _informational(_route, obj, "Route", what)
            estimated_fees = _informational(_fees, obj, "EstimatedFees", what) or EMPTY_MAPPING
            current_fees = _informational(_fees, obj, "CurrentFees", what) or EMPTY_MAPPING
            estimated_value = _informational(to_decimal, obj, "EstimatedValue", what)
            current_value = _informational(to_decimal, obj, "CurrentValue", what)
            created_date = _informational(parse_datetime, obj, "CreatedDate", what)
            updated_date = _informational(parse_datetime, obj, "UpdatedDate", what)
        # ExecutedQuantity/AveragePrice sit on the Order (§8.39); read Details too, as the page says.
        det = as_mapping(details)
        executed = get("ExecutedQuantity", det.get("ExecutedQuantity"))
        average = get("AveragePrice", det.get("AveragePrice"))
        currency, external_id, depth_order_id, exchange, trading_market, style, children, cond = (
            get("Currency"), get("ExternalID"), get("DepthOrderID"), get("Exchange"), get("TradingMarket"),
            get("Style"), get("Children"), get("Condition"))
        return _build_order(
            str(oid),
            str(account),
            str(status),
            parsed_details,
            route,
            None if currency is None else str(currency),
            None if external_id is None else str(external_id),
            None if depth_order_id is None else str(depth_order_id),
            None if exchange is None else str(exchange),
            None if trading_market is None else str(trading_market),
            _style(style),
            estimated_fees,
            current_fees,
            estimated_value,
            current_value,
            created_date,
            updated_date,
            () if children is None else str_tuple(children),
            cond if cond is not None and _is_object(cond) else None,
            to_decimal(executed),
            to_decimal(average),
            str(updated or ""),
        )

    @property
    def leaves_quantity(self) -> Decimal | None:
        """Visible + hidden quantity not yet executed (None if the quantity is unknown)."""
        if self.details.quantity is None:
            return None
        total = self.details.quantity + (self.details.hidden_quantity or 0)
        return total - (self.executed_quantity or 0)


_build_details = _builder(OrderDetails)
_build_route = _builder(OrderRoute)
_build_order = _builder(Order)


@dataclass(frozen=True, slots=True)
class OrderChange:
    """One entry of an ``Orders`` publish (§5.11): ``O`` in A/U/R/C."""

    op: str
    account: str | None
    order: Order | None
    order_id: str | None = None    # R may carry only ID + Account: kept even when no full Order

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> OrderChange:
        op = str(required(obj, "O", "Order Change"))
        raw = obj.get("Order")
        order = None
        order_id = None
        if isinstance(raw, Mapping):
            order_id = optional_str(raw.get("ID"))
            if op in ("A", "U") or raw.get("Details") is not None:
                order = Order.from_json(raw)
        account = optional_str(obj.get("Account")) or (order.account if order else None)
        if account is None and isinstance(raw, Mapping):
            account = optional_str(raw.get("Account"))
        return cls(op, account, order, order_id)


@dataclass(frozen=True, slots=True)
class OrderActionResponse:
    """Order Action Response (§5.10) of Place/Amend/Cancel/Move/CalculateOrder."""

    result: str
    request_id: str | None
    order: Order | None = None
    errors: tuple[str, ...] = ()
    estimated_fees: Mapping[str, Decimal] = field(default_factory=dict)
    estimated_value: Decimal | None = None

    @property
    def ok(self) -> bool:
        return self.result == "Success"

    @property
    def error_codes(self) -> tuple[tuple[str, str], ...]:
        """Each error as (code, values) split at the first space (Appendix E); unknown codes kept."""
        return tuple(split_code(e) for e in self.errors)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> OrderActionResponse:
        order = obj.get("Order")
        fees = _fees(obj.get("EstimatedFees"))
        if not fees:
            # Older servers (§8.38): EstimatedBrokerage / EstimatedTax instead of EstimatedFees.
            brokerage, tax = obj.get("EstimatedBrokerage"), obj.get("EstimatedTax")
            if brokerage is not None or tax is not None:
                legacy = {"Brokerage": brokerage, "Tax": tax}
                fees = _fees({k: v for k, v in legacy.items() if v is not None})
        errors = obj.get("Errors")
        if isinstance(errors, str):
            errors = [errors]
        result, request_id = obj.get("Result"), obj.get("RequestID")
        if result is None:
            raise _missing(obj, "Result", "Order Action Response")
        return _build_response(
            str(result),
            None if request_id is None else str(request_id),
            Order.from_json(order) if type(order) is dict or isinstance(order, Mapping) else None,
            tuple(str(e) for e in errors) if isinstance(errors, list) else (),
            fees,
            to_decimal(obj.get("EstimatedValue")),
        )


@dataclass(frozen=True, slots=True)
class Transaction:
    """Transaction Detail (§5.17): one execution."""

    id: str
    account: str
    order_id: str
    exchange: str
    code: str
    trading_market: str | None
    style: str
    trade_date: datetime | None
    settlement_date: datetime | None
    gross_amount: Decimal | None
    net_amount: Decimal | None
    settlement_amount: Decimal | None
    currency: str | None = None
    total_quantity: Decimal | None = None
    average_price: Decimal | None = None
    total_units: Decimal | None = None
    unit_value: Decimal | None = None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Transaction:
        what = "Transaction"
        get = obj.get
        tid, account, order_id, exchange, code = (
            get("ID"), get("Account"), get("OrderID"), get("Exchange"), get("Code"))
        for name, value in (("ID", tid), ("Account", account), ("OrderID", order_id),
                            ("Exchange", exchange), ("Code", code)):
            if value is None:
                raise _missing(obj, name, what)
        trading_market, style, currency = get("TradingMarket"), get("Style"), get("Currency")
        # Carried only: a malformed one is dropped with a warning (see Order.from_json).
        try:
            trade_date = parse_datetime(get("TradeDate"))
            settlement_date = parse_datetime(get("SettlementDate"))
            gross_amount = to_decimal(get("GrossAmount"))
            net_amount = to_decimal(get("NetAmount"))
            settlement_amount = to_decimal(get("SettlementAmount"))
        except (ValueError, TypeError, ArithmeticError):
            trade_date = _informational(parse_datetime, obj, "TradeDate", what)
            settlement_date = _informational(parse_datetime, obj, "SettlementDate", what)
            gross_amount = _informational(to_decimal, obj, "GrossAmount", what)
            net_amount = _informational(to_decimal, obj, "NetAmount", what)
            settlement_amount = _informational(to_decimal, obj, "SettlementAmount", what)
        total_quantity = to_decimal(get("TotalQuantity"))
        average_price = to_decimal(get("AveragePrice"))
        return _build_transaction(
            str(tid),
            str(account),
            str(order_id),
            str(exchange),
            str(code),
            None if trading_market is None else str(trading_market),
            _style(style),
            trade_date,
            settlement_date,
            gross_amount,
            net_amount,
            settlement_amount,
            None if currency is None else str(currency),
            total_quantity,
            average_price,
            _informational(to_decimal, obj, "TotalUnits", what),
            _informational(to_decimal, obj, "UnitValue", what),
        )

    @staticmethod
    def changes_from_json(data: Any) -> list[tuple[str, str | None, Transaction | None]]:
        """A ``Transactions`` publish (§5.17) -> [(O, Account, Transaction | None)]; ``I`` has none."""
        out: list[tuple[str, str | None, Transaction | None]] = []
        for item in data if isinstance(data, list) else ():
            raw = item.get("Transaction")
            tx = Transaction.from_json(raw) if isinstance(raw, Mapping) else None
            account = optional_str(item.get("Account")) or (tx.account if tx else None)
            out.append((str(item.get("O", "")), account, tx))
        return out


_build_response = _builder(OrderActionResponse)
_build_transaction = _builder(Transaction)


@dataclass(frozen=True, slots=True)
class Holding:
    """Holding Details (§5.15); ``from_json`` unwraps a change object ``{"O":..,"Holding":{..}}``."""

    account: str
    exchange: str
    code: str
    style: str
    cost: Decimal | None
    currency: str | None
    total_quantity: Decimal | None = None
    total_available: Decimal | None = None
    average_price: Decimal | None = None
    total_units: Decimal | None = None
    base_cost: Decimal | None = None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Holding:
        if "O" in obj and isinstance(obj.get("Holding"), Mapping):
            obj = obj["Holding"]
        what = "Holding"
        return cls(
            account=str(required(obj, "Account", what)),
            exchange=str(required(obj, "Exchange", what)),
            code=str(required(obj, "Code", what)),
            style=normalize_class(obj.get("Style")) or "Market",
            cost=to_decimal(obj.get("Cost")),
            currency=optional_str(obj.get("Currency")),
            total_quantity=to_decimal(obj.get("TotalQuantity")),
            total_available=to_decimal(obj.get("TotalAvailable")),
            average_price=to_decimal(obj.get("AveragePrice")),
            total_units=to_decimal(obj.get("TotalUnits")),
            base_cost=to_decimal(obj.get("BaseCost")),
        )


@dataclass(frozen=True, slots=True)
class Balance:
    """Balance (§5.16). ``is_clear``: empty Type = clear the account's balances; Amount 0 = remove."""

    account: str
    type: str
    currency: str
    amount: Decimal

    @property
    def is_clear(self) -> bool:
        return self.type == ""

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Balance:
        return cls(
            account=str(required(obj, "Account", "Balance")),
            type=str(obj.get("Type") or ""),
            currency=str(obj.get("Currency") or ""),
            amount=to_decimal(obj.get("Amount")) or Decimal(0),
        )


@dataclass(frozen=True, slots=True)
class AccountState:
    """Account State (§5.1); a feed-only change carries just ID + Feed."""

    id: str
    feed: str | None = None
    name: str | None = None
    provider: str | None = None
    currency: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    categories: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> AccountState:
        if isinstance(obj.get("Account"), Mapping):  # TradingAccounts change wrapper
            obj = obj["Account"]
        return cls(
            id=str(required(obj, "ID", "Account State")),
            feed=optional_str(obj.get("Feed")),
            name=optional_str(obj.get("Name")),
            provider=optional_str(obj.get("Provider")),
            currency=optional_str(obj.get("Currency")),
            attributes=dict(as_mapping(obj.get("Attributes"))),
            categories=str_tuple(obj.get("Categories", obj.get("CategoryCodes"))),
        )


@dataclass(frozen=True, slots=True)
class OrderStatus:
    """Order Status (§5.13): rely on ``allows``/``reason``, never on the code (§8.34)."""

    code: str
    exchange: str | None
    allows: frozenset[str]
    reason: frozenset[str]

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> OrderStatus:
        return cls(
            code=str(required(obj, "Code", "Order Status")),
            exchange=optional_str(obj.get("Exchange")),
            allows=frozenset(split_comma(obj.get("Allows"))),
            reason=frozenset(split_comma(obj.get("Reason"))),
        )

    @property
    def completed(self) -> bool:
        return "Completed" in self.reason

    def allows_action(self, action: str) -> bool:
        """``action`` one of Trade, Amend, Move, Cancel; ``All`` allows every one."""
        return action in self.allows or "All" in self.allows
