"""A conforming partner for certification tests: a real QuickFIX initiator with a *file* store
(sequence numbers and sent messages survive its reconnects, as a production engine's do).

It does nothing by itself beyond what QuickFIX's session layer does; that is the point: the
``session`` suite must pass against a plain engine with no human action.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import quickfix as fix

_DD = {"FIX.4.2": "FIX42.xml", "FIX.4.4": "FIX44.xml", "FIXT.1.1": "FIXT11.xml"}


class _App(fix.Application):
    def __init__(self, owner: QuickFixPartner) -> None:
        super().__init__()
        self._owner = owner

    def onCreate(self, sessionID: fix.SessionID) -> None:
        pass

    def onLogon(self, sessionID: fix.SessionID) -> None:
        with self._owner.cond:
            self._owner.logons += 1
            self._owner.cond.notify_all()

    def onLogout(self, sessionID: fix.SessionID) -> None:
        with self._owner.cond:
            self._owner.logouts += 1
            self._owner.cond.notify_all()

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass


class QuickFixPartner:
    """``with QuickFixPartner("FIX.4.4", "QFP44", "PLXTRA", port, tmp_path):`` connects until stopped."""

    def __init__(self, begin_string: str, sender: str, target: str, port: int, tmp_path: Path,
                 *, heartbeat: int = 1, acceptor: bool = False) -> None:
        self.cond = threading.Condition()
        self.logons = 0
        self.logouts = 0
        dd_dir = Path(sys.prefix) / "share" / "quickfix"
        if begin_string == "FIXT.1.1":
            dd = [f"TransportDataDictionary={dd_dir / 'FIXT11.xml'}",
                  f"AppDataDictionary={dd_dir / 'FIX50SP2.xml'}", "DefaultApplVerID=FIX.5.0SP2"]
        else:
            dd = [f"DataDictionary={dd_dir / _DD[begin_string]}"]
        base = tmp_path / f"qf-{sender}"
        text = "\n".join([
            "[DEFAULT]", f"ConnectionType={'acceptor' if acceptor else 'initiator'}",
            f"FileStorePath={base}/store", f"FileLogPath={base}/log",
            "ReconnectInterval=1", "SocketNodelay=Y", "LogonTimeout=5", "LogoutTimeout=2",
            "ResetOnLogon=N", "ResetOnLogout=N", "ResetOnDisconnect=N", "ValidateUserDefinedFields=N",
            "", "[SESSION]", f"BeginString={begin_string}", f"SenderCompID={sender}",
            f"TargetCompID={target}",
            *([f"SocketAcceptPort={port}"] if acceptor else
              ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}", f"HeartBtInt={heartbeat}"]),
            "NonStopSession=Y", *dd, "",
        ])
        self.log_dir = base / "log"
        self._settings = fix.SessionSettings()
        self._settings.setFromString(text)
        self._app = _App(self)
        self._store = fix.FileStoreFactory(self._settings)
        self._log = fix.FileLogFactory(self._settings)
        engine = fix.ThreadedSocketAcceptor if acceptor else fix.SocketInitiator
        self._initiator = engine(self._app, self._store, self._settings, self._log)

    def __enter__(self) -> QuickFixPartner:
        self._initiator.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._initiator.stop(True)
