"""ServiceRegistry: routing by MsgType, session events, failures contained as 35=j (no I/O)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.app.services import FixService, Outbox, ServiceRegistry
from gateway.app.testing import write_test_config
from gateway.config.loader import load_config
from gateway.config.model import GatewayConfig, SessionConfig
from gateway.fix.handoff import QuickFixOutbox
from gateway.vocab.records import InboundMessage, OutboundMessage, SessionKey

KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")


class ListOutbox:
    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    def send(self, msg: OutboundMessage, *, on_sent: Callable[[bool], object] | None = None) -> None:
        self.sent.append(msg)
        if on_sent is not None:
            on_sent(True)

    def backlog(self, session: SessionKey) -> int:
        return 0

    def logout(self, session: SessionKey, text: str = "") -> None:
        pass


class Recorder:
    def __init__(self, types: set[str], fail: bool = False) -> None:
        self.msg_types = frozenset(types)
        self.fail = fail
        self.got: list[tuple[str, str]] = []
        self.events: list[str] = []
        self.started = self.closed = False

    def on_message(self, msg: InboundMessage, session: SessionConfig) -> None:
        if self.fail:
            raise KeyError("bug")
        self.got.append((msg.msg_type, session.name))

    def on_logon(self, key: SessionKey, session: SessionConfig) -> None:
        if self.fail:
            raise RuntimeError("bug")
        self.events.append(f"logon {key.target_comp_id}")

    def on_logout(self, key: SessionKey) -> None:
        self.events.append(f"logout {key.target_comp_id}")

    async def start(self) -> None:
        self.started = True

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def config(tmp_path: Path) -> GatewayConfig:
    return load_config(write_test_config(tmp_path, "ws://127.0.0.1:9/Zenith", 9999))


def msg(msg_type: str, *fields: tuple[int, str], key: SessionKey = KEY, seq: int = 7) -> InboundMessage:
    return InboundMessage(key, msg_type, seq, ((35, msg_type), (34, str(seq)), *fields))


def test_protocols_are_satisfied_by_plain_classes() -> None:
    assert isinstance(Recorder({"D"}), FixService)
    assert isinstance(ListOutbox(), Outbox)
    assert isinstance(QuickFixOutbox(lambda key: None), Outbox)


def test_routes_by_msg_type_with_session_config(config: GatewayConfig) -> None:
    orders, md = Recorder({"D", "F"}), Recorder({"V"})
    registry = ServiceRegistry(config, ListOutbox(), [orders, md])
    assert registry.handled_types == frozenset({"D", "F", "V"})
    registry.dispatch(msg("D"))
    registry.dispatch(msg("V"))
    registry.dispatch(msg("F"))
    assert orders.got == [("D", "client1"), ("F", "client1")] and md.got == [("V", "client1")]


def test_two_services_cannot_claim_one_msg_type(config: GatewayConfig) -> None:
    registry = ServiceRegistry(config, ListOutbox(), [Recorder({"D"})])
    with pytest.raises(ValueError, match="'D' is handled by both"):
        registry.register(Recorder({"D", "G"}))
    assert registry.handled_types == frozenset({"D"})


def test_service_exception_becomes_business_reject(config: GatewayConfig) -> None:
    outbox = ListOutbox()
    registry = ServiceRegistry(config, outbox, [Recorder({"D"}, fail=True)])
    registry.dispatch(msg("D", (11, "abc"), seq=42))
    [j] = outbox.sent
    assert j.msg_type == "j" and j.session == KEY
    fields = dict(j.fields)
    assert fields[45] == "42" and fields[372] == "D" and fields[379] == "abc" and fields[380] == "0"
    assert "KeyError" in fields[58]


def test_unhandled_type_and_unknown_session_are_rejected(config: GatewayConfig) -> None:
    outbox = ListOutbox()
    registry = ServiceRegistry(config, outbox, [Recorder({"D"})])
    registry.dispatch(msg("R", (131, "q1")))
    registry.dispatch(msg("D", key=SessionKey("FIX.4.4", "PLXTRA", "GHOST")))
    first, second = (dict(m.fields) for m in outbox.sent)
    assert first[380] == "3" and first[372] == "R" and first[379] == "q1"
    assert second[380] == "4"


def test_session_events_reach_every_service_even_if_one_fails(config: GatewayConfig) -> None:
    good, bad = Recorder({"D"}), Recorder({"V"}, fail=True)
    registry = ServiceRegistry(config, ListOutbox(), [bad, good])
    registry.logon(KEY)
    registry.logon(SessionKey("FIX.4.4", "PLXTRA", "GHOST"))   # not configured: ignored
    registry.logout(KEY)
    assert good.events == ["logon CLIENT1", "logout CLIENT1"]


def test_optional_start_and_close_hooks(config: GatewayConfig) -> None:
    a, b = Recorder({"D"}), Recorder({"V"})
    registry = ServiceRegistry(config, ListOutbox(), [a, b])

    async def lifecycle() -> None:
        await registry.start()
        await registry.close()

    asyncio.run(lifecycle())
    assert a.started and b.started and a.closed and b.closed
