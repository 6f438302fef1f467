"""Test helpers on the FIX side: a real QuickFIX initiator as the counterparty, and free ports.

:class:`FixTestClient` runs a ``quickfix.SocketInitiator`` (its own thread, memory store,
FileLog under ``tmp_path``) and records what it receives, so tests read like a script::

    with FixTestClient(begin_string="FIX.4.4", sender="CLIENT1", target="PLXTRA", port=port,
                       tmp_path=tmp_path) as c:
        c.wait_logged_on(timeout=10)
        c.send("D", [(11, "ord-1"), ..., (60, "<now>")])
        er = c.expect("8", timeout=5, where={150: "0"})

Every wait is bounded; leaving the ``with`` block logs out and stops the initiator even when
the test failed.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import quickfix as fix

from gateway.fix.convert import DictionaryCache, MessageDictionaries, key_of, to_quickfix, to_record
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey
from gateway.vocab.times import utc_timestamp as fix_timestamp

__all__ = ["FixTestClient", "free_port", "utc_timestamp"]

NOW = "<now>"

# Test clients in one process share parsed dictionaries: tests start many clients.
_DICTIONARIES = DictionaryCache()

_DD_FILES = {"FIX.4.2": "FIX42.xml", "FIX.4.4": "FIX44.xml", "FIXT.1.1": "FIXT11.xml",
             "FIX.5.0": "FIX50.xml", "FIX.5.0SP1": "FIX50SP1.xml", "FIX.5.0SP2": "FIX50SP2.xml"}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it; a tiny reuse race remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def utc_timestamp() -> str:
    """FIX UTCTimestamp with milliseconds, e.g. ``20260101-12:00:00.123``."""
    return fix_timestamp(datetime.now(UTC))


Where = Mapping[int, str | Callable[[str | None], bool]]


def _matches(msg: InboundMessage, msg_type: str | None, where: Where | None) -> bool:
    if msg_type is not None and msg.msg_type != msg_type:
        return False
    for tag, want in (where or {}).items():
        got = msg.get(tag)
        if callable(want):
            if not want(got):
                return False
        elif got != want:
            return False
    return True


def _summary(msg: InboundMessage) -> str:
    shown = [f"{t}={v}" for t, v in msg.fields if t not in (34, 49, 52, 56, 122, 43, 97)]
    return " ".join(shown[:16])


class _ClientApp(fix.Application):
    """Records everything; the test thread reads under ``cond``."""

    def __init__(self, owner: FixTestClient) -> None:
        super().__init__()
        self._owner = owner

    def onCreate(self, sessionID: fix.SessionID) -> None:
        pass

    def onLogon(self, sessionID: fix.SessionID) -> None:
        self._owner._event("logon")

    def onLogout(self, sessionID: fix.SessionID) -> None:
        self._owner._event("logout")

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            if message.getHeader().getField(35) == "A":
                for tag, value in self._owner.logon_fields:
                    message.setField(tag, value)
        except Exception as exc:   # never let an exception reach the engine (Py_Exit)
            self._owner._error(exc)

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            self._owner._receive(to_record(message, key_of(sessionID)), admin=True)
        except Exception as exc:
            self._owner._error(exc)

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        try:
            self._owner._receive(to_record(message, key_of(sessionID)), admin=False)
        except Exception as exc:
            self._owner._error(exc)


class FixTestClient:
    """A QuickFIX initiator session to ``127.0.0.1:port`` (our CompID is ``sender``)."""

    def __init__(
        self,
        begin_string: str = "FIX.4.4",
        sender: str = "CLIENT1",
        target: str = "PLXTRA",
        port: int = 9878,
        tmp_path: Path | str = ".",
        reset_on_logon: bool = True,
        default_appl_ver_id: str | None = None,
        *,
        host: str = "127.0.0.1",
        username: str | None = None,
        password: str | None = None,
        heartbeat: int = 30,
        logon_fields: Iterable[tuple[int, str]] = (),
        data_dictionary_dir: Path | None = None,
        validate: bool = True,
    ) -> None:
        self.key = SessionKey(begin_string, sender, target)
        self.port = port
        self.host = host
        self.log_dir = Path(tmp_path) / f"fixclient-{sender}-{begin_string}"
        self.received: list[InboundMessage] = []     # application messages, in arrival order
        self.admin: list[InboundMessage] = []        # admin messages (Logon, Logout, Reject, ...)
        self.errors: list[BaseException] = []
        self.logons = 0
        self.logouts = 0
        fields = list(logon_fields)
        if username is not None:
            fields.append((553, username))
        if password is not None:
            fields.append((554, password))
        self.logon_fields = tuple(fields)
        self._consumed: set[tuple[bool, int]] = set()
        self._cond = threading.Condition()
        self._logged_on = False
        dd_dir = data_dictionary_dir or Path(sys.prefix) / "share" / "quickfix"
        appl_ver = default_appl_ver_id or ("FIX.5.0SP2" if begin_string == "FIXT.1.1" else None)
        main = dd_dir / _DD_FILES[begin_string]
        app = dd_dir / _DD_FILES[appl_ver] if begin_string == "FIXT.1.1" and appl_ver else None
        self.dictionaries = MessageDictionaries(_DICTIONARIES, main, app)
        dd_lines = ([f"TransportDataDictionary={main}", f"AppDataDictionary={app}",
                     f"DefaultApplVerID={appl_ver}"] if app else [f"DataDictionary={main}"])
        self.settings_text = "\n".join([
            "[DEFAULT]", "ConnectionType=initiator", f"FileLogPath={self.log_dir}",
            "ReconnectInterval=1", "SocketNodelay=Y",
            f"ValidateFieldsOutOfOrder={'Y' if validate else 'N'}",
            f"ValidateFieldsHaveValues={'Y' if validate else 'N'}",
            "ValidateUserDefinedFields=N", "LogonTimeout=5", "LogoutTimeout=2",
            "", "[SESSION]", f"BeginString={begin_string}", f"SenderCompID={sender}",
            f"TargetCompID={target}", f"SocketConnectHost={host}", f"SocketConnectPort={port}",
            f"HeartBtInt={heartbeat}", "NonStopSession=Y", f"ResetOnLogon={'Y' if reset_on_logon else 'N'}",
            *dd_lines, "",
        ])
        self._app = _ClientApp(self)
        self._settings: fix.SessionSettings | None = None
        self._store: fix.MemoryStoreFactory | None = None
        self._log: fix.FileLogFactory | None = None
        self._initiator: fix.SocketInitiator | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FixTestClient:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._settings = fix.SessionSettings()
        self._settings.setFromString(self.settings_text)
        self._store = fix.MemoryStoreFactory()
        self._log = fix.FileLogFactory(self._settings)
        self._initiator = fix.SocketInitiator(self._app, self._store, self._settings, self._log)
        self._initiator.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Log out (bounded by ``timeout``) and stop the initiator; idempotent."""
        if self._initiator is None:
            return
        try:
            if self.logged_on:
                # Teardown must not mask the test's own failure: a peer that never answers
                # the Logout is cut off by stopping the initiator below.
                with contextlib.suppress(AssertionError):
                    self.logout(timeout=timeout)
        finally:
            self._initiator.stop(True)
            self._initiator = None

    # -- state -----------------------------------------------------------------------------

    @property
    def logged_on(self) -> bool:
        with self._cond:
            return self._logged_on

    def _session(self) -> fix.Session | None:
        return fix.Session.lookupSession(fix.SessionID(self.key.begin_string, self.key.sender_comp_id,
                                                       self.key.target_comp_id))

    def _event(self, what: str) -> None:
        with self._cond:
            if what == "logon":
                self.logons += 1
                self._logged_on = True
            else:
                self.logouts += 1
                self._logged_on = False
            self._cond.notify_all()

    def _receive(self, msg: InboundMessage, admin: bool) -> None:
        with self._cond:
            (self.admin if admin else self.received).append(msg)
            self._cond.notify_all()

    def _error(self, exc: BaseException) -> None:
        with self._cond:
            self.errors.append(exc)
            self._cond.notify_all()

    def _wait(self, predicate: Callable[[], object], timeout: float) -> object:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    return result
                self._cond.wait(min(left, 0.25))

    def wait_logged_on(self, timeout: float = 10.0) -> None:
        if not self._wait(lambda: self._logged_on, timeout):
            raise AssertionError(f"{self.key} not logged on after {timeout}s; admin received: "
                                 f"{[_summary(m) for m in self.admin]}")

    def wait_logged_out(self, timeout: float = 10.0) -> None:
        if not self._wait(lambda: not self._logged_on, timeout):
            raise AssertionError(f"{self.key} still logged on after {timeout}s")

    def logout(self, reason: str = "", timeout: float = 5.0) -> None:
        """Send Logout and wait for the session to end (QuickFIX sends it within ~1 s)."""
        session = self._session()
        if session is not None:
            session.logout(reason)
        self.wait_logged_out(timeout)

    # -- messages --------------------------------------------------------------------------

    def send(self, msg_type: str, fields: Iterable[tuple[int, object]]) -> bool:
        """Send an application message; values ``"<now>"`` become the current UTC time.
        Returns QuickFIX's answer (False when not logged on)."""
        stamp = utc_timestamp()
        pairs = [(t, stamp if v == NOW else v) for t, v in fields]
        msg = OutboundMessage.build(self.key, msg_type, pairs)
        qmsg = to_quickfix(msg, self.dictionaries)
        return bool(fix.Session.sendToTarget(qmsg, fix.SessionID(
            self.key.begin_string, self.key.sender_comp_id, self.key.target_comp_id)))

    def expect(self, msg_type: str | None, timeout: float = 5.0, where: Where | None = None,
               admin: bool = False) -> InboundMessage:
        """The first message not returned before that has ``msg_type`` and the ``where`` values
        (a value may be a predicate); raises AssertionError naming what came instead."""
        source = self.admin if admin else self.received

        def find() -> int | None:
            for i, m in enumerate(source):
                if (admin, i) not in self._consumed and _matches(m, msg_type, where):
                    return i
            return None

        self._wait(lambda: find() is not None, timeout)
        with self._cond:
            index = find()
            if index is None:
                others = [_summary(m) for i, m in enumerate(source) if (admin, i) not in self._consumed]
                raise AssertionError(
                    f"no {msg_type or 'message'} matching {dict(where or {})} within {timeout}s on "
                    f"{self.key}; unconsumed: {others[-10:]}"
                )
            self._consumed.add((admin, index))
            return source[index]

    def expect_none(self, msg_type: str, within: float, where: Where | None = None) -> None:
        """Assert that no such (unconsumed) message arrives within ``within`` seconds."""
        found = self._wait(lambda: any((False, i) not in self._consumed and _matches(m, msg_type, where)
                                       for i, m in enumerate(self.received)), within)
        if found:
            raise AssertionError(f"unexpected {msg_type} matching {dict(where or {})} on {self.key}")
