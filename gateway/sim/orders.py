"""Order records of the simulator's OMS and their Zenith JSON shapes (spec §5.2, §5.10, §5.20).

Pure: parsing of Order Details / Route into an :class:`OrderSpec` (or a rejection naming the
Appendix E code), the mutable :class:`Order` kept by the engine, and the JSON builders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gateway.sim.wire import DataError, fmt_datetime, opt_decimal, parse_datetime

if TYPE_CHECKING:
    from gateway.sim.conditions import ConditionSpec

__all__ = [
    "OPEN_STATUSES",
    "ORDER_STATUSES",
    "Order",
    "OrderSpec",
    "Rejection",
    "condition_json",
    "order_json",
    "parse_order_spec",
]

ZERO = Decimal(0)

# Status code -> (routed, Reason, Allows): spec §5.20.
ORDER_STATUSES: dict[str, tuple[bool, str, str]] = {
    "Pending": (False, "Normal,Waiting", "Cancel"),
    # a conditional order (StopLoss / TrailingStopLoss, §7.B) held off-book until its condition
    # triggers: not routed, cannot trade, may be amended or cancelled
    "Waiting": (False, "Normal,Waiting", "Amend,Cancel"),
    "OnMarket": (True, "Normal", "Amend,Cancel,Trade,Move"),
    "PartialFill": (True, "Normal", "All"),
    "Filled": (True, "Normal,Completed", "Move"),
    "Cancelled": (True, "Manual,Completed", "None"),
    "Expired": (True, "Normal,Completed", "None"),
    "Rejected": (True, "Abnormal,Completed", "None"),
    "Suspended": (True, "Abnormal", "Cancel"),
}
OPEN_STATUSES = frozenset({"Pending", "Waiting", "OnMarket", "PartialFill", "Suspended"})
_ALLOWS = {code: set(allows.split(",")) for code, (_, _, allows) in ORDER_STATUSES.items()}

ORDER_TYPES = ("Limit", "Best", "Market", "MarketToLimit")
VALIDITIES = ("UntilCancel", "UntilDay", "FillAndKill", "FillOrKill", "AllOrNone")
_SIDES = {"Bid": "Bid", "Ask": "Ask", "B": "Bid", "A": "Ask", "S": "Ask"}
_STYLES = {"Market": "Market", "Equity": "Market", "Option": "Market", "ManagedFund": "ManagedFund"}


def allows(status: str, what: str) -> bool:
    a = _ALLOWS.get(status, set())
    return what in a or "All" in a


@dataclass(frozen=True, slots=True)
class Rejection:
    result: str  # Incomplete | Invalid | Rejected
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """A validated order request (Details + Route), before it becomes an order."""

    exchange: str
    code: str
    side: str
    style: str
    type: str
    limit_price: Decimal | None
    quantity: Decimal
    hidden_quantity: Decimal | None
    minimum_quantity: Decimal | None
    validity: str
    expiry_date: date | None
    short_type: str | None
    instructions: tuple[str, ...]
    route: dict[str, Any]
    details_extra: dict[str, Any] = field(default_factory=dict)  # BrokerageSchedule etc., echoed
    total: Decimal = field(init=False, compare=False)  # visible + hidden, computed once (hot path)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.quantity + (self.hidden_quantity or ZERO))


def _step_of(ticks: tuple[Any, ...], price: Decimal) -> Decimal | None:
    for step in ticks:
        if step.low <= price < step.high:
            return step.size
    return None


_STR_FIELDS = ("Exchange", "Code", "Side", "Style", "Type", "Validity", "ShortType")
_PRICE_CHECKS: dict[tuple[int, str, Decimal], tuple[Any, str | None]] = {}


def _price_error(market: Any, table: str, limit: Decimal) -> str | None:
    """The LimitPrice error for ``limit`` under tick table ``table``, or None (memoised: orders repeat
    a few prices; keyed by the market config's identity, and bounded)."""
    key = (id(market), table, limit)
    hit = _PRICE_CHECKS.get(key)
    if hit is not None and hit[0] is market:  # the entry holds the market: its id is not reused
        return hit[1]
    tick = _step_of(market.tick_tables.get(table, ()), limit) if limit > 0 else None
    if limit <= 0 or tick is None:
        error: str | None = "LimitPrice"
    elif limit % tick != 0:
        error = f"LimitPrice {tick}"
    else:
        error = None
    if len(_PRICE_CHECKS) >= 4096:
        _PRICE_CHECKS.clear()
    _PRICE_CHECKS[key] = (market, error)
    return error


def parse_order_spec(
    details: Any, route: Any, market: Any, symbols: dict[str, Any], today: date
) -> OrderSpec | Rejection:
    """Validate Order Details and Route (spec §5.2, §5.10 mapping). Raises DataError on wrong JSON types."""
    if details is None:
        return Rejection("Incomplete", ("Details",))
    if not isinstance(details, dict):
        raise DataError("Details")
    get = details.get
    for key in _STR_FIELDS:  # opt_str's type check, inlined (hot path)
        value = get(key)
        if value is not None and not isinstance(value, str):
            raise DataError(key)
    exchange: str | None = get("Exchange")
    code: str | None = get("Code")
    side_raw: str | None = get("Side")
    style_raw: str | None = get("Style")
    type_raw: str | None = get("Type")
    validity: str | None = get("Validity")
    short_type: str | None = get("ShortType")
    quantity = opt_decimal(details, "Quantity")
    limit = opt_decimal(details, "LimitPrice")
    hidden = opt_decimal(details, "HiddenQuantity") if "HiddenQuantity" in details else None
    minimum = opt_decimal(details, "MinimumQuantity") if "MinimumQuantity" in details else None
    instructions = get("Instructions") or []
    if instructions and (
        not isinstance(instructions, list) or not all(isinstance(i, str) for i in instructions)
    ):
        raise DataError("Instructions")
    missing = (
        [
            name
            for name, value in (
                ("Exchange", exchange),
                ("Symbol", code),
                ("Side", side_raw),
                ("Style", style_raw),
                ("OrderType", type_raw),
                ("TotalQuantity", quantity),
                ("Validity", validity),
            )
            if value is None
        ]
        if None in (exchange, code, side_raw, style_raw, type_raw, quantity, validity)
        else []
    )
    if type_raw == "Limit" and limit is None:
        missing.append("LimitPrice.Missing")
    if route is None:
        missing.append("Route")
    elif not isinstance(route, dict):
        raise DataError("Route")
    elif route.get("Algorithm") is None:
        missing.append("Route")
    if missing:
        return Rejection("Incomplete", tuple(missing))
    assert exchange is not None and code is not None and quantity is not None and validity is not None
    errors: list[str] = []
    base_exchange = exchange[:-2] if exchange.endswith("[]") else exchange
    if base_exchange != market.code:
        errors.append("Exchange")
    sym = symbols.get(code)
    if sym is None:
        return Rejection("Invalid", ("Symbol",))
    side = _SIDES.get(side_raw or "")
    if side is None:
        errors.append("Side")
    style = _STYLES.get(style_raw or "")
    if style != "Market":
        errors.append("Style")
    if type_raw not in ORDER_TYPES:
        errors.append("OrderType")
    if validity not in VALIDITIES:
        errors.append("Validity")
    if type_raw != "Limit" and limit is not None:
        errors.append("LimitPrice.Given")
    if type_raw == "Limit" and limit is not None:
        error = _price_error(market, sym.tick_table, limit)
        if error is not None:
            errors.append(error)
    lot = sym.lot_size
    if quantity <= 0 or quantity % lot != 0:
        errors.append("TotalQuantity")
    if hidden is not None and (hidden < 0 or hidden % lot != 0):
        errors.append("HiddenQuantity")
    total = quantity + (hidden or ZERO)
    if minimum is not None and (minimum <= 0 or minimum > total):
        errors.append("MinimumQuantity")
    if short_type is not None and short_type not in ("ShortSell", "ShortSellExempt"):
        errors.append("ShortType")
    expiry: date | None = None
    if details.get("ExpiryDate") is not None:
        expiry = parse_datetime(details["ExpiryDate"]).date()
        if expiry < today:
            errors.append("ExpiryDate")
    algorithm = route.get("Algorithm")
    if not isinstance(algorithm, str):
        raise DataError("Route.Algorithm")
    if algorithm == "Market":
        target = route.get("Market")
        if target is None:
            errors.append("Route.Market")
        elif not isinstance(target, str):
            raise DataError("Route.Market")
        elif target != market.trading_market:
            errors.append("Route.Market")
    elif algorithm != "BestMarket":
        errors.append("Route.Algorithm")
    if errors:
        return Rejection("Invalid", tuple(errors))
    extra = {k: details[k] for k in ("BrokerageSchedule",) if isinstance(details.get(k), str)}
    clean_route = {"Algorithm": algorithm}
    if algorithm == "Market":
        clean_route["Market"] = route["Market"]
    assert side is not None and style is not None and type_raw is not None
    return OrderSpec(
        exchange=exchange,
        code=code,
        side=side,
        style=style,
        type=type_raw,
        limit_price=limit,
        quantity=quantity,
        hidden_quantity=hidden if hidden else None,
        minimum_quantity=minimum,
        validity=validity,
        expiry_date=expiry,
        short_type=short_type,
        instructions=tuple(instructions),
        route=clean_route,
        details_extra=extra,
    )


@dataclass(slots=True, eq=False)
class Order:
    """An order of the simulated OMS. Mutable: the engine owns it; JSON comes from :func:`order_json`."""

    id: str
    account: str
    external_id: str
    depth_id: str
    spec: OrderSpec
    currency: str
    created: datetime
    updated: datetime
    internal: bool = False
    status: str = "Pending"
    routed: bool = False
    executed: Decimal = ZERO
    value: Decimal = ZERO
    estimated_value: Decimal = ZERO
    # book state (spec §4.12): resting price, visible and hidden remainder, queue position
    price: Decimal = ZERO
    display: Decimal = ZERO
    hidden: Decimal = ZERO
    position: int = 0
    on_book: bool = False
    waiting: bool = False  # AllOrNone order waiting off-book for a full fill
    reserved: Decimal = ZERO  # cash (bids) or units (asks) held back for the open remainder
    seq: int = 0  # creation order, for stable listings
    # Order Condition (§7.B): the validated condition, the effective stop (moves for trailing
    # stops), and whether the condition still holds the order off-book (status Waiting)
    condition: ConditionSpec | None = None
    stop: Decimal | None = None
    held: bool = False
    history: list[tuple[Any, ...]] = field(default_factory=list)  # audit snapshots

    @property
    def side(self) -> str:
        return self.spec.side

    @property
    def total(self) -> Decimal:
        return self.spec.total

    @property
    def leaves(self) -> Decimal:
        return self.total - self.executed if self.status in OPEN_STATUSES else ZERO

    def snapshot(self) -> tuple[Any, ...]:
        """The changeable part of the order, enough to rebuild its JSON at this moment (audit, publishes)."""
        return (
            self.status,
            self.updated,
            self.executed,
            self.value,
            self.spec,
            self.routed,
            self.account,
            self.estimated_value,
            self.condition,
            self.stop,
        )


def details_json(spec: OrderSpec) -> dict[str, Any]:
    d: dict[str, Any] = {
        "Exchange": spec.exchange,
        "Code": spec.code,
        "Side": spec.side,
        "Style": spec.style,
        "Type": spec.type,
    }
    if spec.limit_price is not None:
        d["LimitPrice"] = spec.limit_price
    d["Quantity"] = spec.quantity
    if spec.hidden_quantity:
        d["HiddenQuantity"] = spec.hidden_quantity
    if spec.minimum_quantity is not None:
        d["MinimumQuantity"] = spec.minimum_quantity
    d["Validity"] = spec.validity
    if spec.expiry_date is not None:
        d["ExpiryDate"] = spec.expiry_date.isoformat()
    if spec.short_type:
        d["ShortType"] = spec.short_type
    if spec.instructions:
        d["Instructions"] = list(spec.instructions)
    if spec.details_extra:
        d.update(spec.details_extra)
    return d


def order_json(o: Order, snap: tuple[Any, ...] | None = None, trading_market: str = "") -> dict[str, Any]:
    """The Order object of spec §5.2 as it was at ``snap`` (default: now)."""
    status, updated, executed, value, spec, routed, account, estimated, cond, stop = snap or o.snapshot()
    d: dict[str, Any] = {"ID": o.id, "Account": account, "ExternalID": o.external_id}
    if routed:
        d["DepthOrderID"] = o.depth_id
    d["Status"] = status
    if routed:
        d["Exchange"] = spec.exchange
        d["TradingMarket"] = spec.route.get("Market", trading_market)
    d["Currency"] = o.currency
    d["EstimatedValue"] = estimated
    d["CurrentValue"] = value
    d["CreatedDate"] = fmt_datetime(o.created)
    d["UpdatedDate"] = fmt_datetime(updated)
    d["Style"] = spec.style
    d["Details"] = details_json(spec)
    d["Route"] = dict(spec.route)
    if cond is not None:
        d["Condition"] = condition_json(cond, stop)
    d["ExecutedQuantity"] = executed
    d["AveragePrice"] = (value / executed).normalize() if executed else None
    return d


def condition_json(cond: ConditionSpec, stop: Decimal | None) -> dict[str, Any]:
    """The Order Condition object (§5.2, §7.B) as the order now stands: effective stop and direction."""
    d: dict[str, Any] = {"Name": cond.name}
    if stop is not None:
        d["Stop"] = stop
    d["Reference"] = cond.reference
    d["Direction"] = "Up" if cond.rising else "Down"
    if cond.trailing:
        d["Type"] = cond.trail_type
        d["Value"] = cond.trail_value
        d["Limit"] = cond.limit
    return d
