"""Simulator configuration: typed, frozen records loaded from YAML (``config/sim.yaml`` documents every key).

``load_sim_config(None)`` gives the XOSP seed data of spec §7.X (market XSX, symbols XS01..XS10,
accounts XS:0001..XS:0010, user XospAdmin/xosp, token ``demo``) with bigger seed positions so that tests
and benches are not starved. ``cfg.with_overrides(activity=False, seed=7, state_path=...)`` replaces
top-level fields or, by name, any field of a nested section (``idle_timeout=0``, ``vetting=True``...).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from gateway.sim.errors import SimConfigError

__all__ = [
    "ALL_SCOPES",
    "AccountConfig",
    "AuthConfig",
    "GeneratorConfig",
    "MarketConfig",
    "ServerConfig",
    "SimConfig",
    "SymbolConfig",
    "TickStep",
    "TokenConfig",
    "TradingConfig",
    "UserConfig",
    "load_sim_config",
]

ALL_SCOPES = ("Zenith/Market", "Zenith/Trading", "Zenith/OrderPad", "Zenith/News")


@dataclass(frozen=True, slots=True)
class TickStep:
    low: Decimal
    high: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class SymbolConfig:
    code: str
    name: str
    reference_price: Decimal
    cfi: str = "EXXXXX"
    lot_size: Decimal = Decimal(1)
    tick_table: str = "XSX"
    currency: str = "AUD"
    share_issue: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class MarketConfig:
    code: str = "XSX"
    name: str = "XOSP Stock Exchange"
    currency: str = "AUD"
    trading_market: str = "XSX::XSX"
    status: str = "Open"
    utc_offset_minutes: int = 0
    tick_tables: dict[str, tuple[TickStep, ...]] = field(default_factory=dict)
    symbols: tuple[SymbolConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountConfig:
    id: str
    name: str
    currency: str = "AUD"
    cash: Decimal = Decimal(10_000_000)
    holdings: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserConfig:
    name: str
    password: str
    display_name: str
    user_id: str
    scopes: tuple[str, ...] = ALL_SCOPES
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TokenConfig:
    token: str
    user: str


@dataclass(frozen=True, slots=True)
class AuthConfig:
    token_lifetime: float = 3600.0
    accept_any_token: bool = True
    any_token_user: str = "XospAdmin"
    reject_result: str = "Reject"
    users: tuple[UserConfig, ...] = ()
    tokens: tuple[TokenConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerConfig:
    name: str = "plxtra-sim"
    version: str = "0.1.0.0"
    ping_interval: float = 30.0
    idle_timeout: float = 60.0
    max_frame_bytes: int = 1 << 20
    require_secure_trading: bool = False
    action_timeout: float = 35.0
    max_outbox: int = 200_000


@dataclass(frozen=True, slots=True)
class TradingConfig:
    vetting: bool = False
    price_band_percent: Decimal = Decimal(10)
    max_order_value: Decimal = Decimal(1_000_000)
    max_price: Decimal = Decimal("200.00")
    max_quantity: Decimal = Decimal(5_000_000)


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    tick_seconds: float = 0.2
    levels: int = 5
    min_order_quantity: int = 300
    max_order_quantity: int = 600
    trades_per_second: float = 3.0
    max_trade_quantity: int = 400
    drift_probability: float = 0.05


@dataclass(frozen=True, slots=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 4502
    seed: int = 1
    state_path: Path | None = None
    activity: bool = True
    server: ServerConfig = ServerConfig()
    auth: AuthConfig = AuthConfig()
    market: MarketConfig = MarketConfig()
    accounts: tuple[AccountConfig, ...] = ()
    trading: TradingConfig = TradingConfig()
    generator: GeneratorConfig = GeneratorConfig()

    def with_overrides(self, **changes: Any) -> SimConfig:
        """Copy with fields replaced; unknown top-level names are looked up in the nested sections."""
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        top_names = {f.name for f in dataclasses.fields(self)}
        for key, value in changes.items():
            if key == "state_path":
                value = Path(value) if value else None
            if key in top_names:
                top[key] = value
                continue
            for section in ("server", "auth", "market", "trading", "generator"):
                if key in {f.name for f in dataclasses.fields(getattr(self, section))}:
                    nested.setdefault(section, {})[key] = value
                    break
            else:
                raise SimConfigError(f"unknown sim setting {key!r}", key=key)
        for section, values in nested.items():
            top[section] = dataclasses.replace(getattr(self, section), **values)
        return dataclasses.replace(self, **top)

    def symbol(self, code: str) -> SymbolConfig | None:
        return next((s for s in self.market.symbols if s.code == code), None)


# ------------------------------------------------------------------------------------ defaults (§7.X)

_DEFAULT_TICKS = (
    TickStep(Decimal("0"), Decimal("0.1"), Decimal("0.001")),
    TickStep(Decimal("0.1"), Decimal("2"), Decimal("0.005")),
    TickStep(Decimal("2"), Decimal("9999999999.99"), Decimal("0.01")),
)


def _default_symbols() -> tuple[SymbolConfig, ...]:
    return tuple(
        SymbolConfig(code=f"XS{n:02d}", name=f"Default Security XS{n:02d}", reference_price=Decimal(5 * n))
        for n in range(1, 11)
    )


def _default_accounts(
    symbols: tuple[SymbolConfig, ...], cash: Decimal, units: Decimal
) -> tuple[AccountConfig, ...]:
    return tuple(
        AccountConfig(
            id=f"XS:{n:04d}",
            name=f"XOSP Account {n:04d}",
            cash=cash,
            holdings={s.code: units for s in symbols},
        )
        for n in range(1, 11)
    )


def _default_auth(accounts: tuple[AccountConfig, ...]) -> AuthConfig:
    user = UserConfig(
        name="XospAdmin",
        password="xosp",
        display_name="XospAdmin",
        user_id="7d0c6c8e-4a51-4f4e-9a52-0f3f0d1e2b3c",
        accounts=tuple(a.id for a in accounts),
    )
    return AuthConfig(users=(user,), tokens=(TokenConfig("demo", "XospAdmin"),))


def default_config() -> SimConfig:
    symbols = _default_symbols()
    accounts = _default_accounts(symbols, Decimal(10_000_000), Decimal(100_000))
    return SimConfig(
        market=MarketConfig(tick_tables={"XSX": _DEFAULT_TICKS}, symbols=symbols),
        accounts=accounts,
        auth=_default_auth(accounts),
    )


# ------------------------------------------------------------------------------------ YAML loading


class _Reader:
    """Typed access to one YAML mapping; errors name file and dotted key."""

    def __init__(self, data: Any, path: str, file: str | None) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SimConfigError("expected a mapping", file=file, key=path or "<root>")
        self.data, self.path, self.file = data, path, file

    def _key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self.data

    def sub(self, name: str) -> _Reader:
        return _Reader(self.data.get(name), self._key(name), self.file)

    def get(self, name: str, kind: type, default: Any) -> Any:
        if name not in self.data or self.data[name] is None:
            return default
        value = self.data[name]
        try:
            if kind is Decimal:
                return Decimal(str(value))
            if kind is bool:
                if isinstance(value, bool):
                    return value
                if isinstance(value, str) and value.lower() in ("on", "off", "true", "false", "yes", "no"):
                    return value.lower() in ("on", "true", "yes")
                raise ValueError(value)
            if kind is float:
                return float(value)
            if kind is int:
                if isinstance(value, bool):
                    raise ValueError(value)
                return int(value)
            if kind is str:
                return str(value)
        except (ValueError, ArithmeticError) as exc:
            raise SimConfigError(
                f"invalid {kind.__name__} {value!r}", file=self.file, key=self._key(name)
            ) from exc
        return value

    def items(self, name: str) -> list[_Reader]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise SimConfigError("expected a list", file=self.file, key=self._key(name))
        return [_Reader(item, f"{self._key(name)}[{i}]", self.file) for i, item in enumerate(value)]


def _load_market(r: _Reader, base: MarketConfig) -> MarketConfig:
    tick_tables = dict(base.tick_tables)
    if r.has("tick_tables"):
        tick_tables = {}
        raw = r.data["tick_tables"]
        if not isinstance(raw, dict):
            raise SimConfigError("expected a mapping", file=r.file, key=r._key("tick_tables"))
        for code, steps in raw.items():
            tr = _Reader({"steps": steps}, r._key(f"tick_tables.{code}"), r.file)
            tick_tables[str(code)] = tuple(
                TickStep(
                    s.get("low", Decimal, Decimal(0)),
                    s.get("high", Decimal, None),
                    s.get("size", Decimal, None),
                )
                for s in tr.items("steps")
            )
            for i, step in enumerate(tick_tables[str(code)]):
                if step.high is None or step.size is None or step.size <= 0:
                    raise SimConfigError(
                        "tick step needs high and a positive size",
                        file=r.file,
                        key=f"{r._key('tick_tables')}.{code}[{i}]",
                    )
    symbols = base.symbols
    if r.has("symbols"):
        symbols = tuple(
            SymbolConfig(
                code=s.get("code", str, ""),
                name=s.get("name", str, ""),
                reference_price=s.get("reference_price", Decimal, Decimal(10)),
                cfi=s.get("cfi", str, "EXXXXX"),
                lot_size=s.get("lot_size", Decimal, Decimal(1)),
                tick_table=s.get("tick_table", str, "XSX"),
                currency=s.get("currency", str, r.get("currency", str, base.currency)),
                share_issue=s.get("share_issue", Decimal, Decimal(0)),
            )
            for s in r.items("symbols")
        )
        for i, s in enumerate(symbols):
            if not s.code or "!" in s.code:
                raise SimConfigError(
                    "symbol code missing or invalid", file=r.file, key=f"market.symbols[{i}].code"
                )
            if s.tick_table not in tick_tables:
                raise SimConfigError(
                    f"unknown tick table {s.tick_table!r}", file=r.file, key=f"market.symbols[{i}].tick_table"
                )
    return MarketConfig(
        code=r.get("code", str, base.code),
        name=r.get("name", str, base.name),
        currency=r.get("currency", str, base.currency),
        trading_market=r.get("trading_market", str, base.trading_market),
        status=r.get("status", str, base.status),
        utc_offset_minutes=r.get("utc_offset_minutes", int, base.utc_offset_minutes),
        tick_tables=tick_tables,
        symbols=symbols,
    )


def load_sim_config(path: str | Path | None) -> SimConfig:
    """Load the simulator YAML (None = built-in XOSP defaults). Raises SimConfigError naming file and key."""
    base = default_config()
    if path is None:
        return base
    file = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except OSError as exc:
        raise SimConfigError(f"cannot read: {exc}", file=file) from exc
    except yaml.YAMLError as exc:
        raise SimConfigError(f"invalid YAML: {exc}", file=file) from exc
    root = _Reader(raw, "", file)
    known = {
        "host",
        "port",
        "seed",
        "state_path",
        "activity",
        "server",
        "auth",
        "market",
        "accounts",
        "trading",
        "generator",
    }
    for key in root.data:
        if key not in known:
            raise SimConfigError("unknown key", file=file, key=str(key))
    market = _load_market(root.sub("market"), base.market)
    sv = root.sub("server")
    server = ServerConfig(
        **{
            f.name: sv.get(f.name, type(getattr(base.server, f.name)), getattr(base.server, f.name))
            for f in dataclasses.fields(ServerConfig)
        }
    )
    tr = root.sub("trading")
    trading = TradingConfig(
        **{
            f.name: tr.get(f.name, type(getattr(base.trading, f.name)), getattr(base.trading, f.name))
            for f in dataclasses.fields(TradingConfig)
        }
    )
    gr = root.sub("generator")
    generator = GeneratorConfig(
        **{
            f.name: gr.get(f.name, type(getattr(base.generator, f.name)), getattr(base.generator, f.name))
            for f in dataclasses.fields(GeneratorConfig)
        }
    )
    accounts = _default_accounts(market.symbols, Decimal(10_000_000), Decimal(100_000))
    if root.has("accounts"):
        acc_list = []
        for a in root.items("accounts"):
            default_units = a.get("units_per_symbol", Decimal, Decimal(0))
            holdings = {s.code: default_units for s in market.symbols} if default_units else {}
            extra = a.data.get("holdings") or {}
            if not isinstance(extra, dict):
                raise SimConfigError("expected a mapping", file=file, key=f"{a.path}.holdings")
            holdings.update({str(k): Decimal(str(v)) for k, v in extra.items()})
            acc_id = a.get("id", str, "")
            if not acc_id:
                raise SimConfigError("account id missing", file=file, key=f"{a.path}.id")
            acc_list.append(
                AccountConfig(
                    id=acc_id,
                    name=a.get("name", str, acc_id),
                    currency=a.get("currency", str, market.currency),
                    cash=a.get("cash", Decimal, Decimal(0)),
                    holdings=holdings,
                )
            )
        accounts = tuple(acc_list)
    ar = root.sub("auth")
    base_auth = _default_auth(accounts)
    users = base_auth.users
    if ar.has("users"):
        users = tuple(
            UserConfig(
                name=u.get("name", str, ""),
                password=u.get("password", str, ""),
                display_name=u.get("display_name", str, u.get("name", str, "")),
                user_id=u.get("user_id", str, u.get("name", str, "")),
                scopes=tuple(u.data.get("scopes") or ALL_SCOPES),
                accounts=tuple(a.id for a in accounts)
                if u.data.get("accounts") in (None, "*")
                else tuple(str(x) for x in u.data["accounts"]),
            )
            for u in ar.items("users")
        )
    tokens = base_auth.tokens
    if ar.has("tokens"):
        tokens = tuple(
            TokenConfig(t.get("token", str, ""), t.get("user", str, "")) for t in ar.items("tokens")
        )
    user_names = {u.name for u in users}
    for i, t in enumerate(tokens):
        if t.user not in user_names:
            raise SimConfigError(
                f"token names unknown user {t.user!r}", file=file, key=f"auth.tokens[{i}].user"
            )
    auth = AuthConfig(
        token_lifetime=ar.get("token_lifetime", float, base_auth.token_lifetime),
        accept_any_token=ar.get("accept_any_token", bool, base_auth.accept_any_token),
        any_token_user=ar.get("any_token_user", str, base_auth.any_token_user),
        reject_result=ar.get("reject_result", str, base_auth.reject_result),
        users=users,
        tokens=tokens,
    )
    state = root.get("state_path", str, None)
    return SimConfig(
        host=root.get("host", str, base.host),
        port=root.get("port", int, base.port),
        seed=root.get("seed", int, base.seed),
        state_path=Path(state) if state else None,
        activity=root.sub("market").get("activity", bool, root.get("activity", bool, base.activity)),
        server=server,
        auth=auth,
        market=market,
        accounts=accounts,
        trading=trading,
        generator=generator,
    )
