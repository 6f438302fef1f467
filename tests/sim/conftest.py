"""Fixtures: a real simulator on 127.0.0.1 (own thread and loop) and a raw JSON WebSocket client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from gateway.sim.config import SimConfig, load_sim_config
from gateway.sim.testing import SimHandle, run_sim_in_thread


class Raw:
    """A raw Zenith JSON client: frames in, frames out, every wait bounded."""

    def __init__(self, url: str, token: str | None = None, **kw: Any) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self.ws: ClientConnection = connect(
            url + "?version=2.0",
            subprotocols=["ZenithJson"],  # type: ignore[list-item]
            additional_headers=headers,
            open_timeout=10,
            legacy=True,
            **kw,
        )
        self.tid = 0
        self.backlog: list[dict[str, Any]] = []

    def send(self, msg: dict[str, Any] | str) -> None:
        self.ws.send(msg if isinstance(msg, str) else json.dumps(msg, default=str))

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        return json.loads(self.ws.recv(timeout=timeout), parse_float=Decimal)

    def expect(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """First frame matching ``pred``; earlier non-matching frames stay in the backlog."""
        for i, m in enumerate(self.backlog):
            if pred(m):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; got {self.backlog[-5:]}")
            m = json.loads(self.ws.recv(timeout=left), parse_float=Decimal)
            if pred(m):
                return m
            self.backlog.append(m)

    def rpc(self, controller: str, topic: str, data: Any = None, timeout: float = 5.0) -> dict[str, Any]:
        self.tid += 1
        tid = self.tid
        msg: dict[str, Any] = {"Controller": controller, "Topic": topic, "TransactionID": tid}
        if data is not None:
            msg["Data"] = data
        self.send(msg)
        return self.expect(lambda m: m.get("TransactionID") == tid, timeout)

    def sub(self, controller: str, topic: str) -> dict[str, Any]:
        """Subscribe with confirmation; returns the snapshot publish."""
        self.send({"Controller": controller, "Topic": topic, "Action": "Sub", "Confirm": True})
        snap = self.expect(lambda m: m.get("Topic") == topic and "Action" not in m)
        self.expect(lambda m: m.get("Topic") == topic and m.get("Action") == "Sub")
        return snap

    def publishes(self, topic: str, timeout: float = 2.0) -> dict[str, Any]:
        return self.expect(
            lambda m: m.get("Topic") == topic and "Action" not in m and "TransactionID" not in m, timeout
        )

    def drain(self, quiet: float = 0.2) -> list[dict[str, Any]]:
        out = list(self.backlog)
        self.backlog.clear()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                out.append(json.loads(self.ws.recv(timeout=quiet), parse_float=Decimal))
            except TimeoutError:
                break
        return out

    def close(self) -> None:
        self.ws.close()


def quiet_config(tmp_path: Path, **kw: Any) -> SimConfig:
    return load_sim_config(None).with_overrides(
        activity=False, seed=7, state_path=tmp_path / "sim.sqlite", **kw
    )


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimHandle]:
    with run_sim_in_thread(quiet_config(tmp_path)) as handle:
        yield handle


@pytest.fixture
def client(sim: SimHandle) -> Iterator[Raw]:
    c = Raw(sim.url, token="demo")
    yield c
    c.close()


def order(
    code: str = "XS01",
    side: str = "Bid",
    qty: Any = 100,
    price: Any = "10.00",
    type_: str = "Limit",
    validity: str = "UntilCancel",
    account: str = "XS:0001",
    rid: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "Exchange": "XSX",
        "Code": code,
        "Side": side,
        "Style": "Market",
        "Type": type_,
        "Quantity": qty,
        "Validity": validity,
    }
    if price is not None:
        details["LimitPrice"] = price
    details.update(extra)
    body: dict[str, Any] = {
        "Account": account,
        "Details": details,
        "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
    }
    if rid:
        body["RequestID"] = rid
    return body
