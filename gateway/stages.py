"""Stage timestamps of the gateway's own work on an order (the gateway-added latency); no I/O.

One order's work is spread over several loop callbacks and a task: a D is read in QuickFIX's
``fromApp``, its PlaceOrder leaves from the task the orders service starts for the call, the answer
is read on the Zenith socket and resumes that task, and the ExecutionReport is handed to QuickFIX
after the loop turn's journal commit. Each edge that reads opens an :class:`Origin` in
:data:`ORIGIN` for the synchronous handling of what it read; asyncio copies context variables into
the tasks and callbacks started meanwhile (the Zenith call of a D), so the code that writes finds
the origin of what it writes and reports the elapsed time to the gateway's :class:`StageSink`.

Stages (the ``stage`` label of ``plxtra_fix_gateway_added_seconds``):

==================  ==========================================================================
``request``         FIX request read (``fromApp``) -> the Zenith request it caused written
``answer``          Zenith answer read -> the ExecutionReport it caused handed to QuickFIX
``request_answer``  ``request`` + ``answer`` of the same order: the gateway's part of D -> New
``update``          Zenith Orders/Transactions update read -> its reports handed to QuickFIX
``fix_answer``      FIX request read -> its answer handed, no Zenith call between (rejects...)
==================  ==========================================================================

The sink is per gateway: :data:`SINK` is set once in the gateway's start task, before its
sockets exist, and every callback and task of that gateway runs in a copy of that context. With
no sink nothing is timed (one ``ContextVar.get`` per edge). Two gateways sharing one event loop
share QuickFIX's loop driver, whose callbacks carry the first gateway's sink (tests only).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Protocol

__all__ = ["ORIGIN", "SINK", "Kind", "Origin", "StageSink", "answer_read", "close_origin", "delivery_stage",
           "handed", "open_answer", "open_origin", "request_origin", "request_written"]

_now = time.perf_counter_ns


class StageSink(Protocol):
    """Where a gateway's stage durations go (``gateway.ops.metrics``)."""

    zenith_read_ns: int   # perf_counter_ns of the Zenith socket read being handled, or last handled

    def observe(self, stage: str, seconds: float) -> None: ...


class Kind(enum.Enum):
    FIX = "fix"           # a FIX request being handled in fromApp
    ZENITH = "zenith"     # a Zenith read (publishes) being handled
    ANSWER = "answer"     # the answer to a Zenith call, resuming the call's task


class Origin:
    """An inbound read the gateway is working on. ``live`` while its edge's handling is on the
    stack (an ANSWER: until the end of the loop callback); a FIX origin stays usable in the Zenith
    call it started until its request is written (``requested``)."""

    __slots__ = ("answered", "kind", "live", "prior", "request_s", "requested", "sink", "started_ns")

    def __init__(self, kind: Kind, started_ns: int, sink: StageSink, prior: float | None = None) -> None:
        self.kind = kind
        self.started_ns = started_ns
        self.sink = sink
        self.live = True
        self.requested = False
        self.answered = False
        self.request_s: float | None = None
        self.prior = prior   # ANSWER: the ``request`` stage of the same call, when timed

    def expire(self) -> None:
        self.live = False


ORIGIN: ContextVar[Origin | None] = ContextVar("plxtra_stage_origin", default=None)
SINK: ContextVar[StageSink | None] = ContextVar("plxtra_stage_sink", default=None)


def open_origin(kind: Kind) -> Token[Origin | None] | None:
    """An edge starts handling a read (FIX request, Zenith read); None when nothing is timed."""
    sink = SINK.get()
    if sink is None:
        return None
    now = _now()
    if kind is Kind.ZENITH:
        sink.zenith_read_ns = now
    return ORIGIN.set(Origin(kind, now, sink))


def close_origin(token: Token[Origin | None] | None) -> None:
    """The edge's synchronous handling is over: work started meanwhile keeps the origin, not live."""
    if token is None:
        return
    origin = ORIGIN.get()
    if origin is not None:
        origin.live = False
    ORIGIN.reset(token)


def request_origin() -> Origin | None:
    """A Zenith request is being queued: the FIX origin it answers, once per origin (a retry of the
    same call, started by a timer, is not the gateway's reaction to the request)."""
    origin = ORIGIN.get()
    if origin is None or origin.kind is not Kind.FIX or origin.requested:
        return None
    origin.requested = True
    return origin


def request_written(origins: list[Origin]) -> None:
    """The Zenith requests of ``origins`` are written to the socket now."""
    now = _now()
    for origin in origins:
        origin.request_s = (now - origin.started_ns) / 1e9
        origin.sink.observe("request", origin.request_s)


def answer_read(schedule: Callable[[Callable[[], None]], object]) -> None:
    """A Zenith call's answer resumed its task: what the task does next answers that read.
    ``schedule`` (``loop.call_soon``) ends the origin with the current loop callback, so that
    timers set meanwhile do not inherit a live answer."""
    sink = SINK.get()
    if sink is None:
        return
    before = ORIGIN.get()
    prior = before.request_s if before is not None and before.kind is Kind.FIX else None
    origin = Origin(Kind.ANSWER, sink.zenith_read_ns, sink, prior)
    ORIGIN.set(origin)
    schedule(origin.expire)


def open_answer(asked: Origin | None) -> Token[Origin | None] | None:
    """The callback of a Zenith call (``send_request``) handles its answer, just read: what it
    causes answers that read. ``asked`` is the origin current when the call was made (its FIX
    request, whose ``request`` stage then adds up with this one). Close with :func:`close_origin`."""
    sink = SINK.get()
    if sink is None:
        return None
    prior = asked.request_s if asked is not None and asked.kind is Kind.FIX else None
    return ORIGIN.set(Origin(Kind.ANSWER, sink.zenith_read_ns, sink, prior))


def delivery_stage() -> tuple[Origin, str] | None:
    """Reports are being committed for delivery: the origin and stage they will be timed as."""
    origin = ORIGIN.get()
    if origin is None or not origin.live:
        return None
    kind = origin.kind
    if kind is Kind.ZENITH:
        return origin, "update"   # each order of one read is its own observation
    if origin.answered:
        # Publishes read with the answer and held for it (a fill that overtook its PlaceOrder answer)
        return (origin, "update") if kind is Kind.ANSWER else None
    origin.answered = True
    if kind is Kind.ANSWER:
        return origin, "answer"
    return (origin, "fix_answer") if not origin.requested else None


def handed(stage: tuple[Origin, str]) -> None:
    """The reports of ``stage`` (from :func:`delivery_stage`) are handed to QuickFIX now."""
    origin, name = stage
    seconds = (_now() - origin.started_ns) / 1e9
    origin.sink.observe(name, seconds)
    if name == "answer" and origin.prior is not None:
        origin.sink.observe("request_answer", origin.prior + seconds)
