"""``expect_none`` (e.g. session/possdup-ignored): a partner that must ignore our message may still
keep its link alive meanwhile; only an answer fails the step."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.cert.runner import CertRun, StepFailure
from gateway.cert.suite import Expectation
from gateway.harness.codec import FixMessage, FixParser, encode
from gateway.harness.session import SessionTimeout


def message(*pairs: tuple[int, object]) -> FixMessage:
    parser = FixParser()
    parser.feed(encode("FIX.4.4", [pairs[0], (49, "QFACC"), (56, "PLXTRA"), (34, 6), *pairs[1:]]))
    got = parser.next()
    assert got is not None
    return got


@dataclass
class Event:
    message: FixMessage
    own_answer: bool = False


class Session:
    """The partner's messages, then silence (as the harness's session reports them)."""

    def __init__(self, messages: list[FixMessage]) -> None:
        self.events = [Event(m) for m in messages]

    async def next_event(self, timeout: float) -> Event:
        if not self.events:
            raise SessionTimeout("silence")
        return self.events.pop(0)


def expect_none(messages: list[FixMessage]) -> None:
    run: Any = CertRun.__new__(CertRun)   # only the expectation logic: no sockets needed
    session = Session(messages)
    run._live = lambda: session
    run._raise_order_problems = lambda: None
    asyncio.run(run._expect_none(Expectation("expect_none"), 0.5))


def test_heartbeats_and_the_partners_own_test_request_are_not_answers() -> None:
    expect_none([message((35, "0")), message((35, "1"), (112, "TEST")), message((35, "0"))])


@pytest.mark.parametrize("answer", [
    ((35, "0"), (112, "CERT-TR-1")),                # a Heartbeat answering the duplicate TestRequest
    ((35, "3"), (45, "5"), (58, "duplicate")),      # a Reject of it
    ((35, "2"), (7, "1"), (16, "0")),               # a ResendRequest
])
def test_an_answer_to_the_duplicate_fails_the_step(answer: tuple[tuple[int, object], ...]) -> None:
    with pytest.raises(StepFailure, match="must ignore"):
        expect_none([message((35, "1"), (112, "TEST")), message(*answer)])
