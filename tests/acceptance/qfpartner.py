"""A partner's QuickFIX initiator, configured the way a partner would configure it.

Independent of ``gateway.fix.testing``: its own settings text (strict validation with the
stock QuickFIX dictionaries), a file store (so sequence numbers survive a reconnect when
``reset`` is off) and a record of every admin and application message in both directions.
"""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

import quickfix as fix

__all__ = ["Partner", "dictionary_dir"]


def dictionary_dir() -> Path:
    """Where pip's quickfix installed FIX42.xml etc. (share/quickfix under the prefix)."""
    import sys

    for base in (Path(sys.prefix), Path(sys.base_prefix)):
        d = base / "share" / "quickfix"
        if (d / "FIX44.xml").is_file():
            return d
    raise FileNotFoundError("quickfix data dictionaries not found")


def _text(msg: fix.Message) -> str:
    return msg.toString().replace("\x01", "|")


class _App(fix.Application):
    def __init__(self, owner: Partner) -> None:
        super().__init__()
        self.owner = owner

    def onCreate(self, sessionID: fix.SessionID) -> None:
        self.owner.session_id = sessionID

    def onLogon(self, sessionID: fix.SessionID) -> None:
        with self.owner.cond:
            self.owner.logged_on = True
            self.owner.logons += 1
            self.owner.cond.notify_all()

    def onLogout(self, sessionID: fix.SessionID) -> None:
        with self.owner.cond:
            self.owner.logged_on = False
            self.owner.cond.notify_all()

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        with self.owner.cond:
            self.owner.sent_admin.append(_text(message))

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        with self.owner.cond:
            self.owner.recv_admin.append(_text(message))
            self.owner.cond.notify_all()

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        fields = [(int(p.split("=", 1)[0]), p.split("=", 1)[1])
                  for p in message.toString().split("\x01") if p]
        with self.owner.cond:
            self.owner.app.append(fields)
            self.owner.cond.notify_all()


class Partner:
    """``with Partner(...) as p: p.wait_logon(); p.send([...]); p.wait_for(pred)``."""

    def __init__(self, workdir: Path, port: int, begin: str, sender: str, target: str = "PLXTRA",
                 reset: bool = True, appl_ver: str | None = None, heartbeat: int = 30) -> None:
        self.cond = threading.Condition()
        self.logged_on = False
        self.logons = 0
        self.sent_admin: list[str] = []
        self.recv_admin: list[str] = []
        self.app: list[list[tuple[int, str]]] = []
        self.session_id: fix.SessionID | None = None
        dd = dictionary_dir()
        workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            "[DEFAULT]", "ConnectionType=initiator", f"FileStorePath={workdir / 'store'}",
            f"FileLogPath={workdir / 'log'}", "ReconnectInterval=1", "StartTime=00:00:00",
            "EndTime=00:00:00", "NonStopSession=Y", f"HeartBtInt={heartbeat}", "UseDataDictionary=Y",
            "ValidateFieldsOutOfOrder=Y", "ValidateFieldsHaveValues=Y", "ValidateUserDefinedFields=Y",
            "AllowUnknownMsgFields=N", "CheckLatency=N",
            f"ResetOnLogon={'Y' if reset else 'N'}", "ResetOnLogout=N", "ResetOnDisconnect=N",
            "[SESSION]", f"BeginString={begin}", f"SenderCompID={sender}", f"TargetCompID={target}",
            "SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}",
        ]
        if begin == "FIXT.1.1":
            lines += [f"DefaultApplVerID={appl_ver or 'FIX.5.0SP2'}",
                      f"TransportDataDictionary={dd / 'FIXT11.xml'}",
                      f"AppDataDictionary={dd / 'FIX50SP2.xml'}"]
        else:
            lines.append(f"DataDictionary={dd / ('FIX' + begin[4:].replace('.', '') + '.xml')}")
        cfg = workdir / "partner.cfg"
        cfg.write_text("\n".join(lines) + "\n")
        self.begin = begin
        self.settings = fix.SessionSettings(str(cfg))
        self.application = _App(self)
        self.initiator: fix.SocketInitiator | None = fix.SocketInitiator(
            self.application, fix.FileStoreFactory(self.settings), self.settings,
            fix.FileLogFactory(self.settings))

    def __enter__(self) -> Partner:
        assert self.initiator is not None
        self.initiator.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.initiator is None:
            return
        try:
            self.initiator.stop()
        except Exception:  # stopping twice is harmless
            pass
        # QuickFIX keeps a process-wide registry of sessions; the old Session must be destroyed
        # (with its initiator) or a later Partner with the same SessionID would send through it.
        self.initiator = None
        gc.collect()

    def wait_logon(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.logged_on:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no logon within {timeout}s; admin in: {self.recv_admin[-3:]}")
                self.cond.wait(left)

    def send(self, msg_type: str, body: list[tuple[int, str]]) -> None:
        msg = fix.Message()
        header = msg.getHeader()
        header.setField(fix.BeginString(self.begin))
        header.setField(fix.MsgType(msg_type))
        for tag, value in body:
            msg.setField(tag, value)
        assert self.session_id is not None
        if not fix.Session.sendToTarget(msg, self.session_id):
            raise AssertionError("sendToTarget failed")

    def wait_for(self, pred, timeout: float = 10.0) -> list[list[tuple[int, str]]]:
        """Wait until ``pred(app_messages)`` is true; returns the application messages."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.app):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"condition not met in {timeout}s; got {self.app[-5:]}")
                self.cond.wait(left)
            return list(self.app)

    def next_seqs(self) -> tuple[int, int]:
        """(next sender seq, next target seq) from the session store."""
        s = fix.Session.lookupSession(self.session_id)
        return s.getExpectedSenderNum(), s.getExpectedTargetNum()

    def rejects_sent(self) -> list[str]:
        """Session-level Rejects (35=3) our engine sent: the gateway sent something invalid."""
        return [m for m in self.sent_admin if "|35=3|" in m]
