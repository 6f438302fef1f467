"""SQLite state file of the simulator: orders, transactions, holdings, cash, trades and request ids.

Group commit, write-ahead: :meth:`StateStore.apply` only notes what an engine step changed; the
server calls :meth:`StateStore.flush` once per event-loop turn, and always before any byte leaves
the process (the connections' write barrier), so one transaction holds every order answered in that
turn and a client never sees an acknowledgement the file does not hold. A crash of the process loses
nothing acknowledged (WAL journal; ``synchronous=NORMAL`` hands each commit to the OS). Rows are
encoded at flush time from the live objects, so an order touched N times in a turn is written once,
in its latest state. Generator participants' orders are not stored: the generator rebuilds its
quotes on start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.sim.conditions import ConditionSpec
from gateway.sim.engine import Engine, Holding, Step
from gateway.sim.errors import SimError
from gateway.sim.orders import OPEN_STATUSES, Order, OrderSpec
from gateway.sim.wire import RawJSON, decode, encode

__all__ = ["StateStore"]

log = logging.getLogger("gateway.sim")

CHECKPOINT_PERIOD = 0.5  # seconds between background WAL checkpoints

# Orders are keyed by their creation sequence and request ids are appended in arrival order: random
# keys (UUID order ids, client request ids) would put every row in a different index page, and each
# page touched costs a 4 KiB WAL frame per commit. (Files made with the earlier schema, keyed by
# id / (account, request_id), work with the same statements: REPLACE resolves on either key.)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id TEXT NOT NULL, account TEXT NOT NULL, seq INTEGER PRIMARY KEY,
                                   state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transactions (n INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL,
                                         data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS holdings (account TEXT NOT NULL, code TEXT NOT NULL, quantity TEXT NOT NULL,
                                     cost TEXT NOT NULL, PRIMARY KEY (account, code));
CREATE TABLE IF NOT EXISTS cash (account TEXT PRIMARY KEY, amount TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trades (code TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL,
                                   PRIMARY KEY (code, id));
CREATE TABLE IF NOT EXISTS requests (n INTEGER PRIMARY KEY, account TEXT NOT NULL, request_id TEXT NOT NULL,
                                     response TEXT NOT NULL);
"""


def _spec_state(s: OrderSpec) -> dict[str, Any]:
    return {
        "exchange": s.exchange,
        "code": s.code,
        "side": s.side,
        "style": s.style,
        "type": s.type,
        "limit_price": _s(s.limit_price),
        "quantity": str(s.quantity),
        "hidden_quantity": _s(s.hidden_quantity),
        "minimum_quantity": _s(s.minimum_quantity),
        "validity": s.validity,
        "expiry_date": s.expiry_date.isoformat() if s.expiry_date else None,
        "short_type": s.short_type,
        "instructions": list(s.instructions),
        "route": s.route,
        "details_extra": s.details_extra,
    }


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _d(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _spec_from(st: dict[str, Any]) -> OrderSpec:
    from datetime import date

    return OrderSpec(
        exchange=st["exchange"],
        code=st["code"],
        side=st["side"],
        style=st["style"],
        type=st["type"],
        limit_price=_d(st["limit_price"]),
        quantity=Decimal(st["quantity"]),
        hidden_quantity=_d(st["hidden_quantity"]),
        minimum_quantity=_d(st["minimum_quantity"]),
        validity=st["validity"],
        expiry_date=date.fromisoformat(st["expiry_date"]) if st["expiry_date"] else None,
        short_type=st["short_type"],
        instructions=tuple(st["instructions"]),
        route=st["route"],
        details_extra=st["details_extra"],
    )


def _condition_state(c: ConditionSpec | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "name": c.name,
        "stop": _s(c.stop),
        "reference": c.reference,
        "direction": c.direction,
        "rising": c.rising,
        "trail_type": c.trail_type,
        "trail_value": _s(c.trail_value),
        "limit": _s(c.limit),
    }


def _condition_from(st: dict[str, Any] | None) -> ConditionSpec | None:
    if st is None:
        return None
    return ConditionSpec(
        name=st["name"],
        stop=_d(st["stop"]),
        reference=st["reference"],
        direction=st["direction"],
        rising=st["rising"],
        trail_type=st["trail_type"],
        trail_value=_d(st["trail_value"]),
        limit=_d(st["limit"]),
    )


def _order_state(o: Order) -> str:
    return encode(
        {
            "id": o.id,
            "account": o.account,
            "external_id": o.external_id,
            "depth_id": o.depth_id,
            "spec": _spec_state(o.spec),
            "currency": o.currency,
            "created": o.created.isoformat(),
            "updated": o.updated.isoformat(),
            "status": o.status,
            "routed": o.routed,
            "executed": str(o.executed),
            "value": str(o.value),
            "estimated_value": str(o.estimated_value),
            "price": str(o.price),
            "on_book": o.on_book,
            "waiting": o.waiting,
            "position": o.position,
            "seq": o.seq,
            "condition": _condition_state(o.condition),
            "stop": _s(o.stop),
            "held": o.held,
        }
    )


def _order_from(text: str) -> Order:
    st = json.loads(text)
    o = Order(
        id=st["id"],
        account=st["account"],
        external_id=st["external_id"],
        depth_id=st["depth_id"],
        spec=_spec_from(st["spec"]),
        currency=st["currency"],
        created=datetime.fromisoformat(st["created"]),
        updated=datetime.fromisoformat(st["updated"]),
        status=st["status"],
        routed=st["routed"],
        executed=Decimal(st["executed"]),
        value=Decimal(st["value"]),
        estimated_value=Decimal(st["estimated_value"]),
        price=Decimal(st["price"]),
        seq=st["seq"],
        condition=_condition_from(st.get("condition")),  # absent in files of earlier versions
        stop=_d(st.get("stop")),
        held=st.get("held", False),
    )
    o.on_book, o.waiting, o.position = st["on_book"], st["waiting"], st["position"]
    return o


class StateStore:
    def __init__(self, path: Path) -> None:
        try:
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints (WAL -> database file, with an fsync) run on a thread of their own, so a
            # request never waits for one (they took 5-15 ms on the loop: the p99 of every order).
            self.db.execute("PRAGMA wal_autocheckpoint=0")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise SimError(f"cannot open sim state file {path}: {exc}") from exc
        self.path = path
        self._stop_checkpoints = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="plxtra-sim-checkpoint", daemon=True
        )
        self._checkpointer.start()
        self.stale_day = False  # set by load(): the file's trading date is before today
        # noted by apply(), written by flush(); keyed so that a row touched twice is written once
        self._engine: Engine | None = None
        self._orders: dict[str, Order] = {}
        self._transactions: list[tuple[str, dict[str, Any]]] = []
        self._holdings: dict[tuple[str, str], None] = {}
        self._cash: dict[str, None] = {}
        self._trades: dict[tuple[str, int], dict[str, Any]] = {}
        self._requests: dict[tuple[str, str], str] = {}

    def _checkpoint_loop(self) -> None:
        """PASSIVE checkpoints every ``CHECKPOINT_PERIOD`` s on a second connection: they never block
        the writer (WAL), and the WAL stays small. A failure is retried on the next period."""
        try:
            db = sqlite3.connect(str(self.path), isolation_level=None, timeout=1.0)
        except sqlite3.Error:
            log.warning("state file %s: no checkpoint connection; SQLite checkpoints on close", self.path)
            return
        try:
            while not self._stop_checkpoints.wait(CHECKPOINT_PERIOD):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    log.debug("state file checkpoint skipped: %s", exc)
        finally:
            db.close()

    def next_start(self) -> int:
        """Count process starts (mixed into the id generator's seed so ids never repeat across restarts)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='starts'").fetchone()
        n = int(row[0]) + 1 if row else 1
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('starts', ?)", (str(n),))
        return n

    def load(self, engine: Engine) -> None:
        """Restore accounts' cash and holdings, orders (re-booking resting ones), trades and request ids."""
        db = self.db
        for account, amount in db.execute("SELECT account, amount FROM cash"):
            if account in engine.accounts:
                engine.accounts[account].cash = Decimal(amount)
        for account, code, qty, cost in db.execute("SELECT account, code, quantity, cost FROM holdings"):
            if account in engine.accounts:
                engine.accounts[account].holdings[code] = Holding(Decimal(qty), Decimal(cost))
        row = db.execute("SELECT value FROM meta WHERE key='trading_date'").fetchone()
        for code, data in db.execute("SELECT code, data FROM trades ORDER BY code, id"):
            sym = engine.symbols.get(code)
            if sym is None:
                continue
            trade = decode(data)
            sym.trades.append(trade)
            sym.last_trade_id = max(sym.last_trade_id, int(trade["ID"]))
            price, qty = Decimal(str(trade["Price"])), Decimal(str(trade["Quantity"]))
            if trade.get("RelatedID") is not None:  # a cancellation record (spec §4.14)
                sym.volume -= qty
                sym.value -= qty * price
            else:
                sym.record_trade(price, qty)
        self.stale_day = row is not None and row[0] != engine.today().isoformat()
        if row is None:
            self.set_trading_date(engine.today().isoformat())
        resting: list[Order] = []
        for (state,) in db.execute("SELECT state FROM orders ORDER BY seq"):
            o = _order_from(state)
            acct = engine.accounts.get(o.account)
            if acct is None:
                continue
            engine.orders[o.id] = o
            acct.orders[o.id] = o
            engine._order_seq = max(engine._order_seq, o.seq)
            if o.status in OPEN_STATUSES:
                resting.append(o)
        resting.sort(key=lambda o: o.position)
        for o in resting:
            sym = engine.symbols[o.spec.code]
            acct = engine.accounts[o.account]
            if o.waiting:
                sym.waiting[o.id] = o
            elif o.held:
                engine._hold(o)  # in placement order: the rows come by seq, position 0 sorts first
            elif o.on_book:
                engine._rest(o, sym, Step())
            engine._track_expiry(o)
            engine._reserve(acct, o)
        for account, request_id, response in db.execute(
            "SELECT account, request_id, response FROM requests ORDER BY rowid"
        ):
            engine.requests[(account, request_id)] = RawJSON(response)
        for account, data in db.execute("SELECT account, data FROM transactions ORDER BY n"):
            acct = engine.accounts.get(account)
            if acct is not None:
                acct.transactions.append(decode(data))

    @property
    def pending(self) -> bool:
        return self._engine is not None

    def apply(self, engine: Engine, step: Step, request: tuple[str, str, str] | None = None) -> None:
        """Note one step (and the request id's response, for duplicate detection) for the next flush."""
        self._engine = engine
        if step.touched:
            self._orders.update(step.touched)
        if step.transactions:
            self._transactions.extend(step.transactions)
        if step.holdings:
            self._holdings.update(dict.fromkeys(step.holdings))
        if step.balances:
            self._cash.update(step.balances)
        for code, ch in step.symbols.items():
            for trade in ch.trades:
                self._trades[(code, trade["ID"])] = trade
            for trade in ch.trade_updates:
                self._trades[(code, trade["ID"])] = trade
        if request is not None:
            self._requests[(request[0], request[1])] = request[2]

    def flush(self) -> None:
        """Write everything noted since the last flush in one transaction. Raises SimError (nothing
        written; the notes are kept, so the next flush retries them)."""
        engine = self._engine
        if engine is None:
            return
        db = self.db
        accounts = engine.accounts
        try:
            db.execute("BEGIN")
            try:
                if self._orders:
                    db.executemany(
                        "INSERT OR REPLACE INTO orders (id, account, seq, state) VALUES (?, ?, ?, ?)",
                        [(o.id, o.account, o.seq, _order_state(o)) for o in self._orders.values()],
                    )
                if self._transactions:
                    db.executemany(
                        "INSERT INTO transactions (account, data) VALUES (?, ?)",
                        [(account, encode(tx)) for account, tx in self._transactions],
                    )
                if self._holdings:
                    rows = []
                    for account, code in self._holdings:
                        h = accounts[account].holdings.get(code) or Holding()
                        rows.append((account, code, str(h.quantity), str(h.cost)))
                    db.executemany("INSERT OR REPLACE INTO holdings VALUES (?, ?, ?, ?)", rows)
                if self._cash:
                    db.executemany(
                        "INSERT OR REPLACE INTO cash VALUES (?, ?)",
                        [(account, str(accounts[account].cash)) for account in self._cash],
                    )
                if self._trades:
                    db.executemany(
                        "INSERT OR REPLACE INTO trades VALUES (?, ?, ?)",
                        [(code, tid, encode(trade)) for (code, tid), trade in self._trades.items()],
                    )
                if self._requests:
                    db.executemany(
                        "INSERT OR REPLACE INTO requests (account, request_id, response) VALUES (?, ?, ?)",
                        [(account, rid, text) for (account, rid), text in self._requests.items()],
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise SimError(f"cannot write sim state file {self.path}: {exc}") from exc
        self._engine = None
        self._orders.clear()
        self._transactions.clear()
        self._holdings.clear()
        self._cash.clear()
        self._trades.clear()
        self._requests.clear()

    def set_trading_date(self, day: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('trading_date', ?)", (day,))

    def new_day(self, day: str) -> None:
        """Yesterday's trades are history: the new day's trade ids restart at 1 (spec §4.14)."""
        self.flush()  # yesterday's noted rows go in first, so the DELETE below sees them
        self.db.execute("BEGIN")
        self.db.execute("DELETE FROM trades")
        self.set_trading_date(day)
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Flush what is noted (raises SimError if that fails; the file is closed regardless)."""
        self._stop_checkpoints.set()
        self._checkpointer.join(10)
        try:
            self.flush()
        finally:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # leave a compact file behind
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
