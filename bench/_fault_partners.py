"""The three demo partners of the fault probe: a QuickFIX SocketInitiator per partner.

Configured as a partner would: file store (no reset at logon, so after a gateway crash the
engines resume their sequence numbers and exchange ResendRequests), strict validation with the
stock dictionaries, reconnect every second. Every application message received is recorded in
arrival order; every session-level Reject the partner's engine sends back (the gateway sent
something invalid) is recorded too. Callbacks run on QuickFIX threads: they only append under a
lock and notify; the probe reads through :meth:`Partners.snapshot`.

One engine per partner, so that one partner can restart its engine alone
(:meth:`Partners.restart_engine`): QuickFIX 1.16's initiator can stay disconnected for good
when the gateway's Logout and its own logon timer cross (its event log then ends with
"Disconnecting" followed by "Initiated logon request" and nothing more); a partner's operator
would restart it, and so does the probe, which says so in its report.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import quickfix as fix

from gateway.config.dictionaries import locate_dictionaries

__all__ = ["DEMO_PARTNERS", "PartnerSpec", "Partners"]


@dataclass(frozen=True, slots=True)
class PartnerSpec:
    """One demo session: the partner's SenderCompID, FIX version, FIX Account and Plxtra account."""

    sender: str
    begin: str
    fix_account: str
    plxtra_account: str


DEMO_PARTNERS = (
    PartnerSpec("CLIENT1", "FIX.4.4", "0001", "XS:0001"),
    PartnerSpec("CLIENT2", "FIX.4.2", "0003", "XS:0003"),
    PartnerSpec("CLIENT3", "FIXT.1.1", "0004", "XS:0004"),
)

Fields = tuple[tuple[int, str], ...]
_SESSION_TYPES = frozenset({"A", "4", "2", "5"})


def _fields(msg: fix.Message) -> Fields:
    # QuickFIX hands text back; a value that is not UTF-8 would already have failed in SWIG
    out = []
    for part in msg.toString().split("\x01"):
        if part:
            tag, _, value = part.partition("=")
            out.append((int(tag), value))
    return tuple(out)


class _App(fix.Application):
    def __init__(self, owner: Partners) -> None:
        super().__init__()
        self.owner = owner

    def onCreate(self, sessionID: fix.SessionID) -> None:
        self.owner._sessions[sessionID.getSenderCompID().getValue()] = sessionID

    def onLogon(self, sessionID: fix.SessionID) -> None:
        self.owner._set_logged_on(sessionID.getSenderCompID().getValue(), True)

    def onLogout(self, sessionID: fix.SessionID) -> None:
        self.owner._set_logged_on(sessionID.getSenderCompID().getValue(), False)

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        fields = _fields(message)
        if (35, "A") in fields:
            with self.owner.cond:
                self.owner.logons_out.append((sessionID.getSenderCompID().getValue(), fields))
        if (35, "3") in fields:
            text = "|".join(f"{t}={v}" for t, v in fields if t in (45, 371, 372, 373, 58))
            with self.owner.cond:
                self.owner.partner_rejects.append((sessionID.getSenderCompID().getValue(), text))

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        # A partner with a file store must never be asked to start its sequence numbers over: after
        # a restart or a failover the gateway's Logon continues them (no ResetSeqNumFlag) and a gap
        # is filled with GapFill, never with a SequenceReset-Reset.
        pairs = _fields(message)
        fields = dict(pairs)
        sender = sessionID.getSenderCompID().getValue()
        with self.owner.cond:
            if fields.get(35) in _SESSION_TYPES:
                self.owner.admin_in.append((sender, len(self.owner.received), pairs))
            if (fields.get(35) == "A" and fields.get(141) == "Y") or (fields.get(35) == "4"
                                                                       and fields.get(123) != "Y"):
                text = "|".join(f"{t}={fields[t]}" for t in (35, 34, 36, 141, 123) if t in fields)
                self.owner.seq_resets.append((sender, text))

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        sender = sessionID.getSenderCompID().getValue()
        fields = _fields(message)
        with self.owner.cond:
            self.owner.received.append((sender, fields))
            listener = self.owner.listener
            if listener is not None:
                listener(sender, fields)
            self.owner.cond.notify_all()


class Partners:
    """``Partners(workdir, port)`` then ``start()``, ``wait_logged_on()``, ``send(...)``, ``stop()``."""

    def __init__(self, workdir: Path, port: int, specs: Sequence[PartnerSpec] = DEMO_PARTNERS,
                 heartbeat: int = 10) -> None:
        self.specs = tuple(specs)
        self.cond = threading.Condition()
        self.received: list[tuple[str, Fields]] = []
        self.partner_rejects: list[tuple[str, str]] = []
        self.seq_resets: list[tuple[str, str]] = []   # (sender, what) per reset the gateway asked for
        # Logon, SequenceReset, ResendRequest and Logout from the gateway: (sender, how many application
        # messages had arrived before it, fields); and the partner's own Logons
        self.admin_in: list[tuple[str, int, Fields]] = []
        self.logons_out: list[tuple[str, Fields]] = []
        self.logged_on: dict[str, bool] = {s.sender: False for s in self.specs}
        self.logons: dict[str, int] = {s.sender: 0 for s in self.specs}
        # called under ``cond`` for every application message, on the QuickFIX thread
        self.listener: Callable[[str, Fields], None] | None = None
        self.engine_restarts: dict[str, int] = {s.sender: 0 for s in self.specs}
        self._sessions: dict[str, fix.SessionID] = {}
        self._app = _App(self)
        self._initiators: dict[str, fix.SocketInitiator] = {}
        self._settings: dict[str, fix.SessionSettings] = {}
        dd = locate_dictionaries()
        workdir.mkdir(parents=True, exist_ok=True)
        for s in self.specs:
            lines = [
                "[DEFAULT]", "ConnectionType=initiator", f"FileStorePath={workdir / 'store'}",
                f"FileLogPath={workdir / 'log'}", "ReconnectInterval=1", "StartTime=00:00:00",
                "EndTime=00:00:00", "NonStopSession=Y", f"HeartBtInt={heartbeat}", "UseDataDictionary=Y",
                "ValidateUserDefinedFields=Y", "AllowUnknownMsgFields=N", "CheckLatency=N",
                "ResetOnLogon=N", "ResetOnLogout=N", "ResetOnDisconnect=N", "SocketConnectHost=127.0.0.1",
                f"SocketConnectPort={port}", "TargetCompID=PLXTRA",
                "[SESSION]", f"BeginString={s.begin}", f"SenderCompID={s.sender}",
            ]
            if s.begin == "FIXT.1.1":
                lines += ["DefaultApplVerID=FIX.5.0SP2", f"TransportDataDictionary={dd.path('FIXT11.xml')}",
                          f"AppDataDictionary={dd.path('FIX50SP2.xml')}"]
            else:
                lines.append(f"DataDictionary={dd.path('FIX' + s.begin[4:].replace('.', '') + '.xml')}")
            cfg = workdir / f"{s.sender}.cfg"
            cfg.write_text("\n".join(lines) + "\n")
            self._settings[s.sender] = fix.SessionSettings(str(cfg))

    def _engine(self, sender: str) -> fix.SocketInitiator:
        settings = self._settings[sender]
        return fix.SocketInitiator(self._app, fix.FileStoreFactory(settings), settings,
                                   fix.FileLogFactory(settings))

    def _set_logged_on(self, sender: str, value: bool) -> None:
        with self.cond:
            self.logged_on[sender] = value
            if value:
                self.logons[sender] += 1
            self.cond.notify_all()

    def start(self) -> None:
        for s in self.specs:
            self._initiators[s.sender] = self._engine(s.sender)
            self._initiators[s.sender].start()

    def _stop_engine(self, sender: str) -> None:
        engine = self._initiators.pop(sender, None)
        if engine is None:
            return
        try:
            engine.stop()
        except Exception:      # the engine already gone: nothing left to release
            pass
        del engine
        gc.collect()           # QuickFIX's session registry lets go of the session with its initiator
        self._set_logged_on(sender, False)

    def restart_engine(self, sender: str) -> None:
        """Stop this partner's engine and start a new one on the same file store (sequence numbers
        and resend history kept), as a partner's operator would."""
        self._stop_engine(sender)
        self.engine_restarts[sender] += 1
        self._initiators[sender] = self._engine(sender)
        self._initiators[sender].start()

    def stop(self) -> None:
        for sender in list(self._initiators):
            self._stop_engine(sender)

    def is_logged_on(self, sender: str) -> bool:
        with self.cond:
            return self.logged_on[sender]

    def not_logged_on(self) -> list[str]:
        with self.cond:
            return [s for s, on in self.logged_on.items() if not on]

    def wait_logged_on(self, timeout: float) -> bool:
        """True once every session is logged on; False when ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(self.logged_on.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.5))
            return True

    def send(self, sender: str, msg_type: str, body: Sequence[tuple[int, str]]) -> bool:
        """Hand an application message to the partner's engine (it sequences and stores it)."""
        spec = next(s for s in self.specs if s.sender == sender)
        sid = self._sessions.get(sender)
        if sid is None:
            return False
        msg = fix.Message()
        header = msg.getHeader()
        header.setField(fix.BeginString(spec.begin))
        header.setField(fix.MsgType(msg_type))
        for tag, value in body:
            msg.setField(tag, value)
        try:
            return bool(fix.Session.sendToTarget(msg, sid))
        except fix.SessionNotFound:        # the engine is being restarted
            return False

    def snapshot(self) -> tuple[list[tuple[str, Fields]], list[tuple[str, str]]]:
        with self.cond:
            return list(self.received), list(self.partner_rejects)
