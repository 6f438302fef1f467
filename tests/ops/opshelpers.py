"""Helpers of the ops tests: a gateway config with an admin API, and a real aiohttp client."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import aiohttp
import quickfix as fix
import yaml

from gateway.app.testing import write_test_config
from gateway.fix.testing import free_port

TOKEN = "test-admin-token-0123456789"
OPS_TOKEN = "ops-alice-token-0123456789"


def write_admin_config(tmp_path: Path, fix_port: int, admin_port: int | None = None,
                       **kwargs: Any) -> tuple[Path, int]:
    """The demo gateway on the embedded simulator, plus ``admin:`` on a free loopback port."""
    path = write_test_config(tmp_path, "embedded", fix_port, **kwargs)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    port = admin_port or free_port()
    doc["admin"] = {"listen_host": "127.0.0.1", "listen_port": port, "token": TOKEN,
                    "tokens": [{"name": "alice", "token": OPS_TOKEN}]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path, port


def api(port: int, method: str, path: str, *, token: str | None = TOKEN, body: Any = None,
        timeout: float = 10.0) -> tuple[int, Any]:
    """One HTTP request with aiohttp; (status, JSON body or text)."""

    async def call() -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        async with aiohttp.ClientSession(timeout=client_timeout) as session, session.request(
                method, f"http://127.0.0.1:{port}{path}", headers=headers, json=body) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    return asyncio.run(call())


def buy(cl_ord_id: str, price: str = "10.20", account: str = "0001") -> list[tuple[int, object]]:
    return [(11, cl_ord_id), (1, account), (55, "XS01"), (207, "XSX"), (54, "1"), (38, "100"), (40, "2"),
            (44, price), (59, "0"), (60, "<now>")]


class Venue(fix.Application):
    """A partner's plain QuickFIX acceptor (CompID VENUE) that our initiator sessions log on to."""

    def __init__(self) -> None:
        super().__init__()
        self.logged_on = threading.Event()

    def onCreate(self, sessionID: fix.SessionID) -> None: ...
    def onLogon(self, sessionID: fix.SessionID) -> None:
        self.logged_on.set()
    def onLogout(self, sessionID: fix.SessionID) -> None: ...
    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...


def start_venue(tmp_path: Path, port: int) -> tuple[Venue, fix.ThreadedSocketAcceptor]:
    """Start a :class:`Venue` on 127.0.0.1:``port`` (FIX.4.4 VENUE<->PLXTRA); stop it with ``stop(True)``."""
    settings = fix.SessionSettings()
    settings.setFromString(f"""[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort={port}
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
FileStorePath={tmp_path / "venue-store"}

[SESSION]
BeginString=FIX.4.4
SenderCompID=VENUE
TargetCompID=PLXTRA
HeartBtInt=30
""")
    venue = Venue()
    acceptor = fix.ThreadedSocketAcceptor(venue, fix.MemoryStoreFactory(), settings,
                                          fix.ScreenLogFactory(False, False, False))
    acceptor.start()
    return venue, acceptor
