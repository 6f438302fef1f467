"""The Zenith WebSocket server of the simulator (spec §1, §2): handshake, containers, RPC, subscriptions.

``SimServer`` owns the engine, the optional state file, the market generator and every connection.
It runs on one asyncio loop; handlers are synchronous, so each request is handled completely
(engine, state file, response, publishes) before the next frame is read.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from gateway.sim import handlers_auth, handlers_market, handlers_trading  # noqa: F401  (register handlers)
from gateway.sim.config import SimConfig, UserConfig
from gateway.sim.connection import ZenithConnection
from gateway.sim.dispatch import ACTIONS, CONTROLLERS, SUBSCRIPTIONS, ActionError
from gateway.sim.engine import SECURITY_DEFAULTS, Engine, Step
from gateway.sim.errors import SimError
from gateway.sim.generator import MarketGenerator
from gateway.sim.orders import order_json
from gateway.sim.session import Session
from gateway.sim.store import StateStore
from gateway.sim.wire import (
    ABSENT,
    DataError,
    RawJSON,
    container,
    decode,
    encode,
    error_container,
    has_invalid_text,
    may_hold_invalid_text,
    parse_timespan,
    safe_container,
)

__all__ = ["SimServer"]

log = logging.getLogger("gateway.sim")

SUBPROTOCOL = "ZenithJson"
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# RFC 4122 version 4: version nibble = 4, variant bits = 10
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)
_ACCOUNT_TOPICS = ("Orders", "Requests", "Holdings", "Balances", "Transactions")


class SimServer:
    """A Plxtra Zenith simulator on ``ws://host:port/Zenith`` (see docs/design/interfaces.md)."""

    def __init__(self, cfg: SimConfig, host: str | None = None, port: int | None = None) -> None:
        self.cfg = cfg
        self.host = host if host is not None else cfg.host
        self.port = port if port is not None else cfg.port
        self.tz = timezone(timedelta(minutes=cfg.market.utc_offset_minutes))
        self._now_ms = -1
        self._now_dt = datetime.now(self.tz)
        self.store = StateStore(cfg.state_path) if cfg.state_path else None
        start = self.store.next_start() if self.store else 0
        self._rng = random.Random(f"{cfg.seed}:{start}")
        self.engine = Engine(cfg, self.now, self.new_id)
        if self.store:
            self.store.load(self.engine)
            if self.store.stale_day:
                self.commit(self.engine.new_day(self.engine.today()))
                self.store.new_day(self.engine.today().isoformat())  # flushes the step first
        self.generator = (
            MarketGenerator(self, random.Random(f"gen:{cfg.seed}:{start}")) if cfg.activity else None
        )
        self.sessions: dict[Session, None] = {}
        self.subs: dict[tuple[str, str], dict[Session, None]] = {}
        self.security_published: dict[str, dict[str, Any]] = {}
        self.response_delay = 0.0
        self.deferred: list[Step] = []  # steps to publish once the response is out
        self.issued_tokens: dict[str, str] = {}  # token -> user name (AuthOwner logins)
        self._users = {u.name: u for u in cfg.auth.users}
        self._tokens = {t.token: t.user for t in cfg.auth.tokens}
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._pings: set[asyncio.Task[Any]] = set()
        self._session_ids = 0
        self._flush_due = False  # a group commit of the state file is scheduled for this loop turn
        self._day = self.now().date()
        self.url = ""

    # ------------------------------------------------------------------ clock and ids (seeded)

    def now(self) -> datetime:
        """The market's clock in whole milliseconds (the wire's resolution, spec §3.2): every call in
        the same millisecond returns the same object, so its text is formatted once (hot path)."""
        ms = int(time.time() * 1000)
        if ms != self._now_ms:
            self._now_ms = ms
            self._now_dt = datetime.fromtimestamp(ms / 1000, self.tz)
        return self._now_dt

    def new_id(self) -> str:
        """A lowercase version-4 UUID drawn from the seeded generator (formatted by hand: hot path)."""
        n = (self._rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def new_request_id(self) -> str:
        """22 random alphanumerics (spec §5.3 default RequestID), from the seeded generator."""
        n = self._rng.getrandbits(131)
        out = []
        for _ in range(22):
            n, r = divmod(n, 62)
            out.append(_ALNUM[r])
        return "".join(out)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            select_subprotocol=_select_subprotocol,
            max_size=self.cfg.server.max_frame_bytes,
            ping_interval=None,  # our own ticker pings and enforces the 1008 idle close (§1.11)
            create_connection=ZenithConnection,
            compression=None,  # declining permessage-deflate is legal (spec §1.1) and saves CPU per frame
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        self.url = f"ws://{self.host}:{self.port}/Zenith"
        if self.generator:
            self.generator.seed_books()
            self._tasks.append(asyncio.create_task(self.generator.run()))
        self._tasks.append(asyncio.create_task(self._ticker()))

    async def stop(self) -> None:
        """Close every connection with 1012 (ServerRestart), stop background tasks, close the state file."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._server is not None:
            for sess in list(self.sessions):
                sess.close_after_flush(1012, "server restart")
            self._server.close(close_connections=False)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        if self.store:
            try:
                self.store.close()  # flushes what the last loop turn noted
            except SimError:
                log.exception("state file: final flush failed")

    async def drop_connections(self) -> None:
        """Close every client connection with 1001 (GoingAway); state is kept."""
        sessions = list(self.sessions)
        for sess in sessions:
            sess.close_after_flush(1001, "going away")
        for sess in sessions:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sess.ws.wait_closed(), 5)

    def set_response_delay(self, seconds: float) -> None:
        self.response_delay = max(0.0, float(seconds))

    def subscription_count(self, controller: str, topic: str) -> int:
        return len(self.subs.get((controller, topic), ()))

    # ------------------------------------------------------------------ handshake (spec §1.1-§1.3, §2.3)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path not in ("/Zenith", "/zenith"):
            return connection.respond(HTTPStatus.NOT_FOUND, "Zenith endpoint is /Zenith\n")
        offered = [p.strip() for h in request.headers.get_all("Sec-WebSocket-Protocol") for p in h.split(",")]
        offered = [p for p in offered if p]
        if offered and SUBPROTOCOL not in offered:
            return connection.respond(
                HTTPStatus.BAD_REQUEST,
                f"unsupported serialisation {', '.join(offered)}: this server speaks only ZenithJson\n",
            )
        auth = request.headers.get("Authorization")
        if auth is not None:
            token = auth.partition(" ")[2]
            if not token.strip() or self.lookup_token(token.strip()) is None:
                return connection.respond(HTTPStatus.FORBIDDEN, "invalid access token\n")
        return None

    def lookup_token(self, token: str) -> tuple[UserConfig, bool] | None:
        """(user, already expired) for a token, or None when it is rejected (spec §2.11)."""
        auth = self.cfg.auth
        if not token or token == "reject":
            return None
        name = self._tokens.get(token) or self.issued_tokens.get(token)
        if name is None:
            try:
                decoded = base64.b64decode(token, validate=True).decode("ascii")
            except (binascii.Error, ValueError):
                decoded = None
            if decoded:
                name = self._tokens.get(decoded) or self.issued_tokens.get(decoded)
        if name is None and auth.accept_any_token:
            name = auth.any_token_user
        user = self._users.get(name or "")
        if user is None:
            return None
        return user, token == "expired"

    def authenticate(self, sess: Session, user: UserConfig, token: str, expired: bool) -> None:
        """Grant ``user`` to the session; resend snapshots after an expiry; withdraw what is now forbidden."""
        now = time.time()
        resumed = sess.user is not None and not sess.live(now)
        scopes = set(user.scopes)
        if self.cfg.server.require_secure_trading:  # plain ws only (spec §2.10, §8.19)
            scopes -= {"Zenith/Trading", "Zenith/OrderPad"}
        sess.user, sess.token = user, token
        sess.scopes, sess.accounts = frozenset(scopes), frozenset(user.accounts)
        sess.expires_at = now - 1 if expired else now + self.cfg.auth.token_lifetime
        for key in list(sess.subs):
            try:
                snapshot = self._subscribe_snapshot(sess, key[0], key[1], now)
            except ActionError as exc:
                count = sess.subs.pop(key)
                self._drop_holder(sess, key)
                sess.send(error_container(key[0], key[1], exc.code))
                for _ in range(count):
                    sess.send(container(key[0], key[1], action="Unsub", confirm=True))
                continue
            if resumed and snapshot is not ABSENT:
                sess.send(container(key[0], key[1], snapshot))

    # ------------------------------------------------------------------ connections

    async def _handle(self, ws: ServerConnection) -> None:
        self._session_ids += 1
        sess = Session(ws, self._session_ids, self.cfg.server.max_outbox)
        auth = ws.request.headers.get("Authorization") if ws.request else None
        if auth:
            token = auth.partition(" ")[2].strip()
            found = self.lookup_token(token)
            if found is not None:
                self.authenticate(sess, found[0], token, found[1])
        if self.store is not None and isinstance(ws, ZenithConnection):
            ws.barrier = self.durability_barrier
        self.sessions[sess] = None
        writer = asyncio.create_task(sess.writer())

        def on_data(data: bytes | str) -> None:
            if not sess.closing:
                sess.last_seen = time.monotonic()
                sess.closing = self.on_frame(sess, data)

        try:
            if isinstance(ws, ZenithConnection):
                ws.attach(on_data)
            async for raw in ws:  # fragmented messages only, when attached
                on_data(raw)
                if sess.closing:
                    break
            if sess.closing:  # let the writer send what is queued and the close frame
                await asyncio.wait_for(asyncio.shield(writer), 5)
        except (TimeoutError, ConnectionClosed):
            pass
        finally:
            self.sessions.pop(sess, None)
            for handle in sess.pending.values():
                handle.cancel()
            for key in list(sess.subs):
                self._drop_holder(sess, key)
            sess.subs.clear()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    def on_frame(self, sess: Session, raw: str | bytes) -> bool:
        """Handle one inbound frame; True when the connection is being closed."""
        try:
            # A text frame is UTF-8 (RFC 6455 §5.6): no encoding detection, which would read a
            # frame starting with 0xFF 0xFE as UTF-16.
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            msg = decode(text)
        except UnicodeDecodeError:
            self._not_utf8(sess, raw)
            return False
        except ValueError:
            sess.close_after_flush(1007, "invalid JSON")
            return True
        if not isinstance(msg, dict):
            sess.close_after_flush(1007, "message is not a JSON object")
            return True
        if may_hold_invalid_text(text) and has_invalid_text(msg):
            self._invalid_text(sess, msg)
            return False
        controller = msg.get("Controller", "Zenith")
        topic = msg.get("Topic")
        action = msg.get("Action", "Publish")
        tid = msg.get("TransactionID")
        confirm = msg.get("Confirm", False)
        if controller is None:
            controller = "Zenith"
        if action is None:
            action = "Publish"
        if not isinstance(controller, str) or not (topic is None or isinstance(topic, str)):
            sess.send(error_container("Zenith", None, "Data.Deserialise"))
            return False
        bad_tid = tid is not None and (isinstance(tid, bool) or not isinstance(tid, int))
        if bad_tid or not isinstance(action, str) or not isinstance(confirm, bool):
            sess.send(error_container(controller, topic, "Data.Deserialise", None if bad_tid else tid))
            return False
        if controller not in CONTROLLERS:
            sess.send(error_container(controller, topic, f"Controller {controller}", tid))
            return False
        if action == "Cancel":
            handle = sess.pending.pop(tid, None) if tid is not None else None
            if handle is not None:
                handle.cancel()
            return False
        if topic is None:
            sess.send(error_container(controller, None, "Operation.Unknown", tid))
            return False
        if action == "Sub":
            self._sub(sess, controller, topic, confirm)
        elif action == "Unsub":
            self._unsub(sess, controller, topic, confirm)
        elif action == "Publish":
            data = msg.get("Data")
            if self.response_delay > 0:
                self._delay(sess, controller, topic, tid, data)
            else:
                self.run_action(sess, controller, topic, tid, data)
        else:
            sess.send(error_container(controller, topic, "Operation.Unknown", tid))
        return False

    def _not_utf8(self, sess: Session, raw: str | bytes) -> None:
        """A frame that is not UTF-8 (RFC 6455 would close with 1007): one bad request must not cut
        the client's other subscriptions and calls off, so it is answered like undeserialisable
        data when it names a TransactionID, and otherwise dropped (issue 9)."""
        text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        try:
            msg = decode(text)
        except ValueError:
            msg = None
        if isinstance(msg, dict) and _tid(msg) is not None:
            self._invalid_text(sess, msg)
        else:
            log.warning("session %d: dropped a frame that is not UTF-8 (%d bytes)", sess.id, len(raw))

    def _invalid_text(self, sess: Session, msg: dict[str, Any]) -> None:
        """A request holding a string that is not valid text: ``Data.Deserialise`` (spec §1.10),
        as a failed subscription for a Sub (§1.7.2); the connection stays up. The echoed Controller
        and Topic are written with JSON escapes, since they cannot be written as UTF-8."""
        raw_controller, raw_topic = msg.get("Controller"), msg.get("Topic")
        controller = raw_controller if isinstance(raw_controller, str) else "Zenith"
        topic = raw_topic if isinstance(raw_topic, str) else None
        tid = _tid(msg)
        log.warning("session %d: %s:%r refused: not valid text", sess.id, controller, topic)
        sess.send(safe_container(controller, topic, "Data.Deserialise", tid=tid, action="Error"))
        if msg.get("Action") == "Sub" and msg.get("Confirm") is True and topic is not None:
            sess.send(safe_container(controller, topic, "Data.Deserialise", action="Sub"))

    def _delay(self, sess: Session, controller: str, topic: str, tid: int | None, data: Any) -> None:
        loop = asyncio.get_running_loop()
        timeout = sess.configure.get(controller, {}).get("ActionTimeout", self.cfg.server.action_timeout)
        key = tid if tid is not None else -id(data)

        def fire() -> None:
            sess.pending.pop(key, None)
            if self.response_delay >= timeout:
                sess.send(error_container(controller, topic, "Operation.Timeout", tid))
            else:
                self.run_action(sess, controller, topic, tid, data)

        sess.pending[key] = loop.call_later(min(self.response_delay, timeout), fire)

    def run_action(self, sess: Session, controller: str, topic: str, tid: int | None, data: Any) -> None:
        now = time.time()
        if topic in ("Configure", "QueryConfigure"):
            result = self._configure(sess, controller, topic, data)
        else:
            spec = ACTIONS.get((controller, topic))
            if spec is None:
                sess.send(error_container(controller, topic, "Operation.Unknown", tid))
                return
            if not spec.public and not sess.may(spec.scope, now):
                sess.send(error_container(controller, topic, "Authority", tid))
                return
            if spec.needs_data and data is None:
                sess.send(error_container(controller, topic, "Data", tid))
                return
            try:
                result = spec.fn(self, sess, data)
            except DataError:
                sess.send(error_container(controller, topic, "Data.Deserialise", tid))
                return
            except ActionError as exc:
                sess.send(error_container(controller, topic, exc.code, tid))
                return
            except Exception:
                log.exception("handler %s:%s failed", controller, topic)
                sess.send(error_container(controller, topic, "Fault", tid))
                return
        if tid is None:
            if (controller, topic) in sess.subs:
                sess.send(container(controller, topic, result))
            else:
                sess.send(error_container(controller, topic, "Operation.NoResult"))
        else:
            sess.send(container(controller, topic, result, tid))
        if self.deferred:
            steps, self.deferred = self.deferred, []
            for step in steps:
                self.publish_step(step)

    def _configure(self, sess: Session, controller: str, topic: str, data: Any) -> Any:
        settings = sess.configure.setdefault(controller, {})
        if topic == "QueryConfigure":
            from gateway.sim.wire import fmt_timespan

            return {
                name: fmt_timespan(settings.get(name, self.cfg.server.action_timeout))
                for name in ("ActionTimeout", "SubscriptionTimeout")
            }
        if isinstance(data, dict):
            for name in ("ActionTimeout", "SubscriptionTimeout"):
                if isinstance(data.get(name), str):
                    with contextlib.suppress(DataError):
                        settings[name] = parse_timespan(data[name])
        return ABSENT

    # ------------------------------------------------------------------ subscriptions (spec §1.7)

    def _subscribe_snapshot(self, sess: Session, controller: str, topic: str, now: float) -> Any:
        name, sep, arg = topic.partition("!")
        spec = SUBSCRIPTIONS.get((controller, name))
        if spec is None:
            if (controller, topic) in ACTIONS:  # a query-topic subscription receives only results (§1.6)
                if not sess.live(now) and not ACTIONS[(controller, topic)].public:
                    raise ActionError("Authority")
                return ABSENT
            raise ActionError("Operation.Unknown")
        if (spec.takes_argument is True and not sep) or (spec.takes_argument is False and sep):
            raise ActionError("Operation.Unknown")
        if not spec.public and not sess.may(spec.scope, now):
            raise ActionError("Authority")
        return spec.snapshot(self, sess, arg if sep else None)

    def _sub(self, sess: Session, controller: str, topic: str, confirm: bool) -> None:
        key = (controller, topic)
        if key in sess.subs:  # §8.10: count it, confirm, no new snapshot
            sess.subs[key] += 1
            if confirm:
                sess.send(container(controller, topic, action="Sub", confirm=True))
            return
        error: str | None
        try:
            snapshot = self._subscribe_snapshot(sess, controller, topic, time.time())
        except DataError:
            snapshot, error = None, "Data.Deserialise"
        except ActionError as exc:
            snapshot, error = None, exc.code
        else:
            error = None
        if error is not None:
            sess.send(error_container(controller, topic, error))
            if confirm:
                sess.send(container(controller, topic, error, action="Sub"))
            return
        sess.subs[key] = 1
        self.subs.setdefault(key, {})[sess] = None
        if snapshot is not ABSENT:
            sess.send(container(controller, topic, snapshot))
        if confirm:
            sess.send(container(controller, topic, action="Sub", confirm=True))

    def _unsub(self, sess: Session, controller: str, topic: str, confirm: bool) -> None:
        key = (controller, topic)
        count = sess.subs.get(key)
        if count is not None:
            if count <= 1:
                del sess.subs[key]
                self._drop_holder(sess, key)
            else:
                sess.subs[key] = count - 1
        if confirm:
            sess.send(container(controller, topic, action="Unsub"))

    def _drop_holder(self, sess: Session, key: tuple[str, str]) -> None:
        holders = self.subs.get(key)
        if holders is not None:
            holders.pop(sess, None)
            if not holders:
                del self.subs[key]
                if key[0] == "Market" and key[1].startswith("Security!"):
                    self.security_published.pop(key[1][9:].rpartition(".")[0], None)

    # ------------------------------------------------------------------ publishing

    def publish(self, controller: str, topic: str, data: Any, now: float) -> None:
        holders = self.subs.get((controller, topic))
        if not holders:
            return
        text = container(controller, topic, data)
        for sess in holders:
            if sess.live(now):
                sess.send(text)

    def _publish_account(self, name: str, account: str, data: list[Any], now: float) -> None:
        holders = self.subs.get(("Trading", name))
        payload: list[Any] | RawJSON = data
        if holders and ("Trading", f"{name}!{account}") in self.subs:
            payload = RawJSON(encode(data))  # both topics watched: encode the changes once
        self.publish("Trading", f"{name}!{account}", payload, now)
        if holders:
            text = container("Trading", name, payload)
            for sess in holders:
                if account in sess.accounts and sess.live(now):
                    sess.send(text)

    def _account_watched(self, name: str, account: str) -> bool:
        return ("Trading", f"{name}!{account}") in self.subs or ("Trading", name) in self.subs

    def commit(self, step: Step, request: tuple[str, str, str] | None = None) -> None:
        """Note a step for the state file; it is committed before anything about it leaves the process.

        Group commit: one transaction per loop turn, run by :meth:`durability_barrier` at the end of
        the turn or earlier, when a connection is about to write (write-ahead)."""
        store = self.store
        if store is not None and (
            step.touched
            or step.transactions
            or step.holdings
            or step.balances
            or request is not None
            or any(c.trades or c.trade_updates for c in step.symbols.values())
        ):
            store.apply(self.engine, step, request)
            if not self._flush_due:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:  # no loop (start-up): write now
                    self.durability_barrier()
                    return
                self._flush_due = True
                loop.call_soon(self.durability_barrier)

    def durability_barrier(self) -> bool:
        """Commit what the state file has noted; False (and every connection dropped) if that fails.

        Every connection calls this before writing, so a response or publish is never sent for state
        that a restart would not have."""
        self._flush_due = False
        store = self.store
        if store is None or not store.pending:
            return True
        try:
            store.flush()
        except SimError:
            log.exception("state file write failed: dropping connections, nothing unsaved is acknowledged")
            for sess in list(self.sessions):
                transport = getattr(sess.ws, "transport", None)
                if transport is not None:
                    transport.abort()
            return False
        return True

    def publish_step(self, step: Step) -> None:
        """Turn an engine step into publishes (spec §5.20 order: requests, orders, market data, positions)."""
        if not self.subs:  # nobody watches anything (every publish below needs a holder in subs)
            return
        now = time.time()
        engine = self.engine
        tm = self.cfg.market.trading_market
        if step.requests:
            grouped: dict[str, list[Any]] = {}
            for account, order, request_id, kind, spec, when in step.requests:
                if self._account_watched("Requests", account):
                    req = engine.request_json(account, order, request_id, kind, spec, when)
                    grouped.setdefault(account, []).extend(
                        (
                            {"O": "A", "Request": req},
                            {"O": "R", "Request": {"ID": request_id, "Account": account}},
                        )
                    )
            for account, changes in grouped.items():
                self._publish_account("Requests", account, changes, now)
        if step.orders:
            grouped = {}
            for account, op, order, snap in step.orders:
                if self._account_watched("Orders", account):
                    change = (
                        {"O": "R", "Order": {"ID": order.id, "Account": account}}
                        if op == "R"
                        else {"O": op, "Order": order_json(order, snap, tm)}
                    )
                    grouped.setdefault(account, []).append(change)
            for account, changes in grouped.items():
                self._publish_account("Orders", account, changes, now)
        market = self.cfg.market.code
        for code, ch in step.symbols.items():
            suffix = f"{code}.{market}"
            if ch.depth:
                self.publish("Market", "Depth!" + suffix, ch.depth, now)
            if ch.levels:
                self.publish("Market", "Levels!" + suffix, ch.levels, now)
            if ch.trades:
                changes = [{"O": "A", "Trade": t} for t in ch.trades]
                changes.extend({"O": "U", "Trade": t} for t in ch.trade_updates)
                self.publish("Market", "Trades!" + suffix, changes, now)
            prev = self.security_published.get(code)
            if prev is not None:
                new = engine.security_dynamic(code)
                diff = {k: v for k, v in new.items() if prev.get(k, ABSENT) != v}
                for k in prev:
                    if k not in new:
                        diff[k] = SECURITY_DEFAULTS[k]
                if diff:
                    self.security_published[code] = new
                    self.publish("Market", "Security!" + suffix, diff, now)
        for account, tx in step.transactions:
            if self._account_watched("Transactions", account):
                self._publish_account("Transactions", account, [{"O": "A", "Transaction": tx}], now)
        if step.holdings:
            grouped = {}
            for (account, code), first in step.holdings.items():
                if self._account_watched("Holdings", account):
                    h = engine.holding_json(engine.accounts[account], code)
                    op = "R" if not h["TotalQuantity"] else first
                    grouped.setdefault(account, []).append({"O": op, "Holding": h})
            for account, changes in grouped.items():
                self._publish_account("Holdings", account, changes, now)
        for account in step.balances:
            if self._account_watched("Balances", account):
                self._publish_account(
                    "Balances", account, engine.balances_json(engine.accounts[account]), now
                )

    def apply_step(self, step: Step, request: tuple[str, str, str] | None = None) -> None:
        self.commit(step, request)
        self.publish_step(step)

    # ------------------------------------------------------------------ background: pings, idle, expiry

    async def _ticker(self) -> None:
        sv = self.cfg.server
        period = 1.0
        if sv.ping_interval:
            period = min(period, sv.ping_interval / 2)
        if sv.idle_timeout:
            period = min(period, sv.idle_timeout / 4)
        while True:
            await asyncio.sleep(period)
            mono = time.monotonic()
            for sess in list(self.sessions):
                # last data frame, or last frame of any kind (pings, pongs) on our own connections
                seen = max(sess.last_seen, getattr(sess.ws, "last_frame", 0.0))
                if sv.idle_timeout and mono - seen > sv.idle_timeout:
                    sess.close_after_flush(1008, "idle timeout")
                elif sv.ping_interval and mono - sess.last_ping >= sv.ping_interval:
                    sess.last_ping = mono
                    task = asyncio.create_task(self._ping(sess))
                    self._pings.add(task)
                    task.add_done_callback(self._pings.discard)
            today = self.now().date()
            if today != self._day:
                self._day = today
                self.start_day(today)

    def set_market_status(self, status: str) -> None:
        """Fault/scenario hook: change the trading state of market and board (e.g. ``Closed``, ``Halted``).

        Publishes the Markets change and a TradingState diff on every watched Security; orders are then
        refused with ``Symbol.Status`` unless the state is Open or PreOpen."""
        self.engine.status = status
        now = time.time()
        self.publish("Market", "Markets", [handlers_market.market_state(self)], now)
        step = Step()
        for code in list(self.security_published):
            step.sym(code)
        self.publish_step(step)

    def cancel_trade(self, code: str, trade_id: int) -> bool:
        """Fault hook: bust trade ``trade_id`` of ``code`` (spec §4.14); False if there is no such trade."""
        step = self.engine.cancel_trade(code, trade_id)
        if step is None:
            return False
        self.apply_step(step)
        return True

    def start_day(self, today: date) -> None:
        """New trading day: expiries, fresh Trades markers, full Security states (spec §4.11, §4.14)."""
        watched = list(self.security_published)
        self.security_published.clear()  # the full state below replaces the diffs of the expiries
        self.apply_step(self.engine.new_day(today))
        if self.store:
            self.store.new_day(today.isoformat())
        now = time.time()
        market = self.cfg.market.code
        for code in self.engine.symbols:
            self.publish("Market", f"Trades!{code}.{market}", [{"O": "I", "ID": 0}], now)
            if code in watched:
                self.security_published[code] = self.engine.security_dynamic(code)
                self.publish("Market", f"Security!{code}.{market}", self.engine.security_json(code), now)
        self.publish("Market", "Markets", [handlers_market.market_state(self)], now)

    async def _ping(self, sess: Session) -> None:
        with contextlib.suppress(Exception):
            waiter = await sess.ws.ping()
            await asyncio.wait_for(waiter, self.cfg.server.idle_timeout or 60)
            sess.last_seen = time.monotonic()


def _tid(msg: dict[str, Any]) -> int | None:
    tid = msg.get("TransactionID")
    return tid if isinstance(tid, int) and not isinstance(tid, bool) else None


def _select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    # no header = JSON (spec §1.2 [C]); offers without ZenithJson were refused in _process_request
    return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None
