"""Sans-I/O core of the Zenith client: message containers in, outcomes out.

No sockets, no asyncio, no clock: the edge (:mod:`gateway.zenith.client`) feeds it the text of
each inbound frame with :meth:`ZenithProtocol.receive` and acts on the returned outcome, and
sends the frame text that the call / subscribe methods return. Driving it from one thread at a
time is the caller's job.

What it keeps:

* pending calls by TransactionID (§1.6): never reused while pending (one counter for the client's
  life, so a stale timer can never hit a newer call);
* the Error-then-result rule (§1.6, §8.5): a non-Error message with the ID completes the call
  (earlier errors become warnings); an ``Error`` completes it as a failure only if no result
  follows within :data:`ERROR_HOLD` seconds -- the core returns :class:`ErrorHeld` and the edge
  calls :meth:`ZenithProtocol.expire_error` when that time has passed;
* subscriptions reference-counted by (Controller, Topic) (§1.7.5): one ``Sub`` on the wire
  however many subscribers, one ``Unsub`` when the count reaches zero. Every ``Unsub`` asks for
  a confirmation and publishes for that key are dropped until it arrives, so a later ``Sub``
  never mixes the old stream with the new snapshot (§1.7.3).
* text validity: a topic or value that is not valid Unicode (a lone surrogate: bytes that were
  not UTF-8 upstream) is refused locally and never goes on the wire, where it could only fail the
  server's decoding (issue 9: it made the simulator drop the connection on every resubscribe);
* a topic whose ``Sub`` is the first unanswered frame at :data:`MAX_SUB_DROPS` consecutive
  connection drops is given up (:class:`~gateway.zenith.errors.ZenithSubscriptionLost`): the
  server processes frames in order, so that ``Sub`` is the likeliest cause of the drops, and
  re-sending it at every reconnect would cut every other subscription and call off again. After a
  drop that left a ``Sub`` unanswered the next connection subscribes *one topic at a time* (the
  next ``Sub`` leaves when the previous one is answered, see :attr:`ZenithProtocol.outbox`):
  answers lost with a dropped batch cannot then put the blame on an innocent topic.

Inbound classification follows §1.13 exactly, with the defaults of §1.4 applied.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from gateway.zenith.errors import (
    ZenithConnectionError,
    ZenithError,
    ZenithInvalidText,
    ZenithRequestError,
    ZenithSubscriptionLost,
)
from gateway.zenith.events import StreamReset, SubscriptionClosed, SubscriptionData, SubscriptionEvent
from gateway.zenith.values import _fast_decode, _stdlib_loads, dumps, loads, split_code

__all__ = [
    "ERROR_HOLD",
    "MAX_SUB_DROPS",
    "CallFailed",
    "CallResult",
    "ControllerError",
    "Deliver",
    "ErrorHeld",
    "Outcome",
    "Subscription",
    "ZenithProtocol",
    "backoff_delay",
    "backoff_start",
    "error_from_data",
    "is_valid_text",
    "refresh_delay",
]

#: Seconds an ``Error`` for a call waits for a result with the same TransactionID (§8.5).
ERROR_HOLD = 0.25

#: Consecutive connection drops with a topic's ``Sub`` as the first unanswered frame before the
#: client gives the topic up (an unrelated drop resets nothing else and the count restarts as
#: soon as the topic is answered, so only a topic that keeps killing the connection reaches it).
MAX_SUB_DROPS = 3


_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii
Key = tuple[str, str]
# A call's frame text up to its TransactionID, per (controller, topic) found to be valid text:
# the text start_call wrote each time (two escapes and two validity checks per call before).
_call_heads: dict[Key, str] = {}

#: A typed decoder of a ``Data`` (see :meth:`ZenithProtocol.start_call`): the JSON text in, the
#: typed value out, or one of :data:`DECODE_REFUSED` raised for the generic decode to take over
#: (any other exception is taken as a refusal too: a decoder's fault never loses a frame).
DataDecoder = Callable[[Any], Any]
DECODE_REFUSED = (ValueError, TypeError, ArithmeticError, KeyError, AttributeError, RecursionError)


class _Frame(msgspec.Struct):
    """The container (§1.4) with its ``Data`` left as JSON text (``msgspec.Raw``, validated but
    not decoded): decoded afterwards, typed when its call or topic has a decoder. Every field is
    what ``msg.get(name)`` gives on the generic decode (an absent ``Data`` reads as ``null``)."""

    Controller: Any = None
    Topic: Any = None
    Action: Any = None
    TransactionID: Any = None
    Confirm: Any = None
    Data: msgspec.Raw = msgspec.Raw(b"null")


_frame_decode: Callable[[str], _Frame] = msgspec.json.Decoder(_Frame, float_hook=Decimal).decode


# ---------------------------------------------------------------------------------------------
# Outcomes of receive(): the edge dispatches on type(outcome).


class CallResult:
    """Resolve ``waiter`` with ``data``; ``warnings`` are Error containers received before it."""

    __slots__ = ("data", "waiter", "warnings")

    def __init__(self, waiter: Any, data: Any, warnings: tuple[ZenithRequestError, ...]) -> None:
        self.waiter = waiter
        self.data = data
        self.warnings = warnings


class CallFailed:
    """Fail ``waiter`` with ``error``."""

    __slots__ = ("error", "waiter")

    def __init__(self, waiter: Any, error: ZenithError) -> None:
        self.waiter = waiter
        self.error = error


class ErrorHeld:
    """An ``Error`` arrived for call ``transaction_id``: call :meth:`ZenithProtocol.expire_error`
    after ``delay`` seconds unless a result completes it first."""

    __slots__ = ("delay", "transaction_id")

    def __init__(self, transaction_id: int, delay: float) -> None:
        self.transaction_id = transaction_id
        self.delay = delay


class Deliver:
    """Call each still-active subscription's callback with ``event``, in order."""

    __slots__ = ("event", "subscriptions")

    def __init__(self, subscriptions: tuple[Subscription, ...], event: SubscriptionEvent) -> None:
        self.subscriptions = subscriptions
        self.event = event


class ControllerError:
    """An ``Error`` nobody waits for (controller-wide, unknown transaction, stray topic): log it."""

    __slots__ = ("error",)

    def __init__(self, error: ZenithError) -> None:
        self.error = error


Outcome = CallResult | CallFailed | ErrorHeld | Deliver | ControllerError | None


# ---------------------------------------------------------------------------------------------


class Subscription:
    """One subscriber's reference to (controller, topic). ``close()`` drops it (idempotent)."""

    __slots__ = ("_release", "active", "callback", "controller", "decode", "topic")

    def __init__(
        self,
        controller: str,
        topic: str,
        callback: Callable[[SubscriptionEvent], None],
        release: Callable[[Subscription], None] | None = None,
        decode: DataDecoder | None = None,
    ) -> None:
        self.controller = controller
        self.topic = topic
        self.callback = callback
        self.active = True
        self._release = release
        self.decode = decode

    def close(self) -> None:
        """Drop this reference; the last one sends ``Unsub`` on the wire."""
        if self.active:
            self.active = False
            if self._release is not None:
                self._release(self)

    def __repr__(self) -> str:
        state = "active" if self.active else "closed"
        return f"<Subscription {self.controller}:{self.topic} {state}>"


class _Topic:
    __slots__ = ("confirmed", "decode", "drops", "has_data", "key", "last_error", "on_wire", "sent", "subs")

    def __init__(self, key: Key) -> None:
        self.key = key
        self.subs: tuple[Subscription, ...] = ()
        self.on_wire = False       # a Sub was sent on the current connection
        self.confirmed = False     # Sub confirmation received
        self.has_data = False      # a publish (the snapshot) was delivered since the last (re)subscribe
        self.last_error: ZenithRequestError | None = None
        self.sent = 0              # order of its last Sub among the client's Subs (wire order)
        self.drops = 0             # consecutive drops with this Sub first unanswered (MAX_SUB_DROPS)
        self.decode: DataDecoder | None = None   # the subscribers' one decoder, if they agree

    def agree(self) -> None:
        # Typed data only when every subscriber asked for the same decoder: each one gets
        # exactly the data form it asked for.
        decoders = {sub.decode for sub in self.subs}
        self.decode = decoders.pop() if len(decoders) == 1 else None


class _Call:
    __slots__ = ("controller", "decode", "errors", "topic", "waiter")

    def __init__(self, controller: str, topic: str, waiter: Any, decode: DataDecoder | None = None) -> None:
        self.controller = controller
        self.topic = topic
        self.waiter = waiter
        self.decode = decode
        self.errors: list[ZenithRequestError] | None = None


def error_from_data(controller: str, topic: str, data: Any) -> ZenithRequestError:
    """Build the error for an ``Error`` container whose ``Data`` is a string, an array of strings
    or an object (§8.6); each string splits at its first space into (code, suffix)."""
    pairs: list[tuple[str, str]] = []
    if isinstance(data, str):
        pairs.append(split_code(data))
    elif isinstance(data, list):
        for item in data:
            pairs.append(split_code(item if isinstance(item, str) else dumps(item)))
    elif isinstance(data, dict):
        code = data.get("Code") or data.get("Error") or data.get("Result")
        suffix = data.get("Suffix") or data.get("Message") or data.get("Reason") or ""
        if isinstance(code, str) and code:
            c, s = split_code(code)
            pairs.append((c, f"{s} {suffix}".strip() if isinstance(suffix, str) else s))
        else:
            pairs.append(("Error", dumps(data)))
    if not pairs or not pairs[0][0]:
        pairs = [("Error", "" if data is None else dumps(data))]
    code, suffix = pairs[0]
    return ZenithRequestError(
        code, suffix, data, controller=controller, topic=topic, errors=tuple(pairs)
    )


def _is_error_shaped(data: Any) -> bool:
    # §1.13 step 3: a Sub message with string or array-of-strings Data is a failed subscription.
    if isinstance(data, str):
        return True
    return isinstance(data, list) and bool(data) and all(isinstance(x, str) for x in data)


class ZenithProtocol:
    """State of one client: pending calls and subscriptions, across reconnections."""

    def __init__(self) -> None:
        self._next_tid = 1
        self._pending: dict[int, _Call] = {}
        self._topics: dict[Key, _Topic] = {}
        self._draining: dict[Key, int] = {}      # Unsub confirmations still expected, per key
        self._failure_echo: set[Key] = set()     # failed Subs whose "Sub"+Data echo is still due
        self._subs_sent = 0
        self._abandoned: list[Deliver] = []      # topics given up at the last connection loss
        # One Sub at a time after a suspicious drop: topics still to send, and the one in flight.
        self._careful = False
        self._queue: deque[_Topic] = deque()
        self._awaiting: _Topic | None = None
        # A decoder was registered once: frames are read with their Data left raw (_Frame).
        self._typed = False
        #: Frames the core wants sent that no call returned (the next paced ``Sub``): the edge
        #: sends and clears them after each :meth:`receive`.
        self.outbox: list[str] = []
        self.connected = False   # calls may start (authentication included)
        self.ready = False       # authenticated and resubscribed: subscriptions go on the wire

    # -- inspection ----------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def subscriber_count(self, controller: str, topic: str) -> int:
        st = self._topics.get((controller, topic))
        return len(st.subs) if st else 0

    def topics(self) -> list[Key]:
        return list(self._topics)

    # -- calls ---------------------------------------------------------------------------------

    def start_call(
        self, controller: str, topic: str, data: Any, waiter: Any, decode: DataDecoder | None = None
    ) -> tuple[int, str]:
        """Register a call; returns its TransactionID and the frame text to send.

        With ``decode``, the answer's ``Data`` is ``decode(its JSON text)`` when the decoder
        accepts it (it raises one of :data:`DECODE_REFUSED` otherwise), else the generic decode:
        the caller must take both forms, and the typed one must equal what it would make of the
        generic one."""
        if not self.connected:
            raise ZenithConnectionError(f"not connected: cannot call {controller}:{topic}")
        body = "null" if data is None else dumps(data)
        head = _call_heads.get((controller, topic))
        if head is None:
            if not is_valid_text(controller) or not is_valid_text(topic):
                raise ZenithInvalidText(controller, topic, "a topic or value is not valid text; not sent")
            head = f'{{"Controller":{_encode_str(controller)},"Topic":{_encode_str(topic)},"TransactionID":'
            if len(_call_heads) < 256:   # a few actions; a topic made of data must not grow it
                _call_heads[(controller, topic)] = head
        # dumps escapes every non-ASCII character, so any surrogate shows as "\ud...": only then
        # is the (rare) full check paid for; a valid astral character is an escaped pair.
        if "\\ud" in body and not _encodable(body):
            raise ZenithInvalidText(controller, topic, "a topic or value is not valid text; not sent")
        tid = self._next_tid
        self._next_tid = tid + 1
        self._pending[tid] = _Call(controller, topic, waiter, decode)
        if decode is not None:
            self._typed = True
        return tid, f'{head}{tid},"Data":{body}}}'


    def abandon_call(self, tid: int, waiter: Any) -> str | None:
        """Forget call ``tid`` (its caller timed out or gave up). Returns the ``Cancel`` frame to send
        (§1.5) if the call was still pending with this waiter, else ``None``."""
        call = self._pending.get(tid)
        if call is None or call.waiter is not waiter:
            return None
        del self._pending[tid]
        return (
            f'{{"Controller":{_encode_str(call.controller)},"Topic":{_encode_str(call.topic)},'
            f'"Action":"Cancel","TransactionID":{tid}}}'
        )

    def expire_error(self, tid: int) -> CallFailed | None:
        """The hold of :class:`ErrorHeld` has passed: fail the call if no result came."""
        call = self._pending.get(tid)
        if call is None or not call.errors:
            return None
        del self._pending[tid]
        return CallFailed(call.waiter, _combine(call.errors))

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(
        self,
        controller: str,
        topic: str,
        callback: Callable[[SubscriptionEvent], None],
        release: Callable[[Subscription], None] | None = None,
        *,
        resync: bool = True,
        decode: DataDecoder | None = None,
    ) -> tuple[Subscription, list[str], Deliver | None]:
        """Add a subscriber. Returns (subscription, frames to send, delivery to make first).

        The first subscriber of a key sends ``Sub``. A later subscriber joining after the snapshot
        has passed would never see one (the server does not resend it, §8.10); with ``resync`` the
        topic is subscribed again on the wire (``Unsub`` + ``Sub``) and the existing subscribers
        get :class:`StreamReset` before the fresh snapshot.

        ``decode``: as for :meth:`start_call`, for the publishes' ``Data``; used only while every
        subscriber of the topic has given the same decoder.
        """
        key = (controller, topic)
        if not is_valid_text(controller) or not is_valid_text(topic):
            # Never on the wire; the caller learns it as for a server refusal (§1.7.2).
            dead = Subscription(controller, topic, callback)
            error = ZenithInvalidText(controller, topic, "the topic is not valid text; not subscribed")
            return dead, [], Deliver((dead,), SubscriptionClosed(controller, topic, error))
        sub = Subscription(controller, topic, callback, release, decode)
        if decode is not None:
            self._typed = True
        st = self._topics.get(key)
        frames: list[str] = []
        delivery: Deliver | None = None
        if st is None:
            st = self._topics[key] = _Topic(key)
            st.subs = (sub,)
            st.agree()
            if self.ready:
                if self._careful:
                    self._queue.append(st)
                    if self._awaiting is None:
                        frames += self._advance()
                else:
                    frames.append(self._sub_frame(st))
            return sub, frames, delivery
        existing = st.subs
        st.subs = (*existing, sub)
        st.agree()
        if resync and self.ready and st.on_wire and st.has_data:
            frames.append(self._unsub_frame(key))
            frames.append(self._sub_frame(st))
            delivery = Deliver(existing, StreamReset(controller, topic))
        return sub, frames, delivery

    def unsubscribe(self, sub: Subscription) -> list[str]:
        """Remove a subscriber; returns the ``Unsub`` frame when it was the last one."""
        key = (sub.controller, sub.topic)
        st = self._topics.get(key)
        if st is None or sub not in st.subs:
            return []
        st.subs = tuple(s for s in st.subs if s is not sub)
        if st.subs:
            st.agree()
            return []
        del self._topics[key]
        if self.ready and st.on_wire:
            frames = [self._unsub_frame(key)]
            if st is self._awaiting:
                frames += self._advance()
            return frames
        return []

    def _sub_frame(self, st: _Topic) -> str:
        st.on_wire = True
        st.confirmed = False
        st.has_data = False
        st.last_error = None
        self._subs_sent += 1
        st.sent = self._subs_sent
        c, t = st.key
        return f'{{"Controller":{_encode_str(c)},"Topic":{_encode_str(t)},"Action":"Sub","Confirm":true}}'

    def _unsub_frame(self, key: Key) -> str:
        self._draining[key] = self._draining.get(key, 0) + 1
        c, t = key
        return f'{{"Controller":{_encode_str(c)},"Topic":{_encode_str(t)},"Action":"Unsub","Confirm":true}}'

    # -- connection lifecycle ------------------------------------------------------------------

    def connection_made(self) -> None:
        """A new connection is open (not yet authenticated): calls may start."""
        self.connected = True
        self.ready = False
        self._draining.clear()
        self._failure_echo.clear()
        for st in self._topics.values():
            st.on_wire = False

    def resubscribe(self) -> tuple[list[Deliver], list[str]]:
        """After (re)authentication: StreamReset for every topic that was live on a previous
        connection, then one ``Sub`` per topic with subscribers. Deliver first, then send."""
        deliveries: list[Deliver] = []
        todo: list[_Topic] = []
        self.ready = True
        for st in self._topics.values():
            if st.on_wire:
                continue
            if st.has_data or st.confirmed:
                deliveries.append(Deliver(st.subs, StreamReset(*st.key)))
            todo.append(st)
        if self._careful:
            self._queue = deque(todo)
            self._awaiting = None
            return deliveries, self._advance()
        return deliveries, [self._sub_frame(st) for st in todo]

    def _advance(self) -> list[str]:
        """Paced mode: the ``Sub`` of the next queued topic still wanted, or leave the mode."""
        while self._queue:
            st = self._queue.popleft()
            if self._topics.get(st.key) is st and not st.on_wire:
                self._awaiting = st
                return [self._sub_frame(st)]
        self._awaiting = None
        self._careful = False
        return []

    def _answered(self, st: _Topic) -> None:
        # The paced Sub in flight got its answer (confirmation, snapshot or failure): next one.
        if st is self._awaiting:
            self.outbox += self._advance()

    def connection_lost(self, error: ZenithConnectionError) -> list[CallFailed]:
        """The connection is gone: every pending call fails with ``error``; subscriptions stay
        registered and go out again at :meth:`resubscribe`, except one given up
        (:data:`MAX_SUB_DROPS`): :meth:`take_abandoned` then returns its delivery."""
        self.connected = False
        self.ready = False
        failed = [CallFailed(call.waiter, error) for call in self._pending.values()]
        self._pending.clear()
        self._draining.clear()
        self._failure_echo.clear()
        self._careful = self._strike_first_unanswered()
        self._queue.clear()
        self._awaiting = None
        for st in self._topics.values():
            if st.on_wire:
                st.on_wire = False
                st.has_data = st.has_data or st.confirmed  # remember it was live: StreamReset later
        return failed

    def _strike_first_unanswered(self) -> bool:
        # The server handles frames in order: every Sub sent before the first unanswered one was
        # processed, so the drop most likely happened on that one (or on something unrelated, which
        # the next answer forgives).
        suspect: _Topic | None = None
        for st in self._topics.values():
            if st.on_wire and not st.confirmed and not st.has_data and (
                suspect is None or st.sent < suspect.sent
            ):
                suspect = st
        if suspect is None:
            return False
        suspect.drops += 1
        if suspect.drops >= MAX_SUB_DROPS:
            del self._topics[suspect.key]
            lost = ZenithSubscriptionLost(suspect.key[0], suspect.key[1], suspect.drops)
            self._abandoned.append(Deliver(suspect.subs, SubscriptionClosed(*suspect.key, lost)))
        return True

    def take_abandoned(self) -> list[Deliver]:
        """Deliveries for topics given up at the last :meth:`connection_lost` (once each)."""
        out, self._abandoned = self._abandoned, []
        return out

    def close_all(self, error: ZenithError | None) -> list[Deliver]:
        """The client stops for good: every subscription is told :class:`SubscriptionClosed`."""
        out = [Deliver(st.subs, SubscriptionClosed(*st.key, error)) for st in self._topics.values()]
        self._topics.clear()
        return out

    # -- inbound -------------------------------------------------------------------------------

    def receive(self, text: str | bytes) -> Outcome:
        """Classify one inbound frame (§1.13) and return what the edge must do, or ``None``.

        Raises :class:`ValueError` for a frame that is not a JSON object (the edge logs it).

        Once a decoder was given (:meth:`start_call`, :meth:`subscribe`), the container is read
        first with its ``Data`` as raw JSON (:class:`_Frame`), and the ``Data`` decoded once its
        call or topic is known: typed by its decoder, else generic (``values.loads``' rule:
        msgspec, then the stdlib on the whole frame). A frame msgspec refuses goes the generic way
        whole, as before, and no decoder sees it.
        """
        doc = text if isinstance(text, str) else text.decode("utf-8")
        if self._typed:
            try:
                frame = _frame_decode(doc)
            except (ValueError, RecursionError):
                pass
            else:
                return self._classify(frame.Controller, frame.Topic, frame.Action, frame.TransactionID,
                                      frame.Confirm, None, frame.Data, doc)
        msg = loads(doc)
        if type(msg) is not dict:
            raise ValueError(f"Zenith frame is not a JSON object: {str(text)[:200]!r}")
        get = msg.get
        return self._classify(get("Controller"), get("Topic"), get("Action"), get("TransactionID"),
                              get("Confirm"), get("Data"), None, doc)

    def _classify(self, controller: Any, topic: Any, action: Any, tid: Any, confirm: Any, data: Any,
                  raw: msgspec.Raw | None, doc: str) -> Outcome:
        # ``data`` is the decoded Data, or, when ``raw`` is given, still to be decoded by
        # _value; every decode comes before any change of state, as when the whole frame was
        # decoded first.
        controller = controller or "Zenith"
        topic = topic or ""
        action = action or "Publish"
        if tid is not None and type(tid) is not int:
            tid = _as_tid(tid)

        if action == "Publish":
            if tid is not None:
                call = self._pending.get(tid)
                if call is None:
                    return None  # late answer to an abandoned or failed call
                if raw is not None:
                    data = _value(raw, doc, call.decode)
                del self._pending[tid]
                warnings = tuple(call.errors) if call.errors else ()
                return CallResult(call.waiter, data, warnings)
            return self._data(controller, topic, data, raw, doc)

        if raw is not None:
            data = _value(raw, doc, None)

        if action == "Error":
            return self._error(controller, topic, tid, data)

        if action == "Sub":
            key = (controller, topic)
            if confirm is True:
                st = self._topics.get(key)
                if st is not None and st.on_wire:
                    st.confirmed = True
                    st.drops = 0
                    if self._careful:
                        self._answered(st)
                return None
            if _is_error_shaped(data):
                if key in self._failure_echo:
                    self._failure_echo.discard(key)
                    return None
                return self._fail_topic(key, error_from_data(controller, topic, data))
            return self._data(controller, topic, data, None, doc)

        if action == "Unsub":
            key = (controller, topic)
            if confirm is True:
                # Server-initiated (§1.7.4): one per reference held; we hold one.
                st = self._topics.pop(key, None)
                if st is None:
                    return None
                if self._careful:
                    self._answered(st)
                return Deliver(st.subs, SubscriptionClosed(controller, topic, st.last_error))
            n = self._draining.get(key, 0)
            if n > 1:
                self._draining[key] = n - 1
            else:
                self._draining.pop(key, None)
            return None

        return None  # Cancel or an unknown action from the server: nothing to do

    def _data(self, controller: str, topic: str, data: Any, raw: msgspec.Raw | None = None,
              doc: str = "") -> Deliver | None:
        key = (controller, topic)
        st = self._topics.get(key)
        if st is None or not st.on_wire or key in self._draining:
            return None
        if raw is not None:
            data = _value(raw, doc, st.decode)
        if not st.has_data:
            st.has_data = True
            st.drops = 0
            if self._careful:
                self._answered(st)
        return Deliver(st.subs, SubscriptionData(controller, topic, data))

    def _error(self, controller: str, topic: str, tid: Any, data: Any) -> Outcome:
        error = error_from_data(controller, topic, data)
        if tid is not None:
            call = self._pending.get(tid)
            if call is not None:
                first = not call.errors
                if call.errors is None:
                    call.errors = []
                call.errors.append(error)
                return ErrorHeld(tid, ERROR_HOLD) if first else None
        if topic:
            key = (controller, topic)
            st = self._topics.get(key)
            if st is not None and st.on_wire:
                if not st.confirmed and not st.has_data:
                    # A failed subscribe (§1.7.2): the "Sub"+Data echo that follows is swallowed.
                    self._failure_echo.add(key)
                    return self._fail_topic(key, error)
                st.last_error = error  # e.g. lost permission: a server Unsub follows (§2.9)
        return ControllerError(error)

    def _fail_topic(self, key: Key, error: ZenithRequestError) -> Deliver | None:
        st = self._topics.pop(key, None)
        if st is None:
            return None
        if self._careful:
            self._answered(st)
        return Deliver(st.subs, SubscriptionClosed(key[0], key[1], error))


def _value(raw: msgspec.Raw, doc: str, decode: DataDecoder | None) -> Any:
    """The ``Data`` whose JSON text is ``raw`` (taken from the frame ``doc``): ``decode``'s value
    when it accepts it, else what ``values.loads(doc)["Data"]`` is, or the error it raises."""
    if decode is not None:
        try:
            return decode(raw)
        except Exception:  # refused (DECODE_REFUSED), or failed: never the loss of the frame
            pass
    try:
        return _fast_decode(raw)
    except (ValueError, RecursionError):
        pass
    # msgspec read the container but not its Data: the stdlib decides on the whole frame, as
    # values.loads would have.
    return _stdlib_loads(doc).get("Data")


def _as_tid(value: Any) -> int | None:
    # Tolerance (§8.21): a TransactionID echoed as a numeric string or as 5.0 still matches.
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
    return int(number) if number is not None and number.is_integer() else None


def _combine(errors: list[ZenithRequestError]) -> ZenithRequestError:
    if len(errors) == 1:
        return errors[0]
    first = errors[0]
    pairs = tuple(p for e in errors for p in e.errors)
    return ZenithRequestError(
        first.code, first.suffix, [e.data for e in errors],
        controller=first.controller, topic=first.topic, errors=pairs,
    )


# -- policies (pure functions the edge applies) ----------------------------------------------

#: Close codes §1.12 [C] lists as "do not reconnect": protocol error, unsupported or invalid
#: data, too large; 4000+ are session-limit closes (reconnecting at once would fight the other
#: login). The gateway has no one to hand the decision to, and giving up cuts every partner off
#: Plxtra for good (issue 9), so after these it still reconnects, but from the longest back-off.
#: 1000 is not among them: a graceful server restart closes with it.
_SLOW_RECONNECT = frozenset({1002, 1003, 1007, 1009, 1010})


def backoff_start(close_code: int | None) -> int:
    """The back-off attempt number the reconnection after ``close_code`` starts from: 0 (the
    initial delay) for a network error, 1000 (normal) and 1001/1006/1008/1011/1012; a number
    large enough for :func:`backoff_delay` to reach its maximum for the codes above."""
    if close_code is not None and (close_code in _SLOW_RECONNECT or close_code >= 4000):
        return 30
    return 0


def is_valid_text(text: str) -> bool:
    """False when ``text`` holds a surrogate, i.e. cannot be encoded as UTF-8 (nor sent)."""
    try:
        text.encode("utf-8")  # ~16x cheaper than a regex scan for surrogates
    except UnicodeEncodeError:
        return False
    return True


def _encodable(body: str) -> bool:
    # Slow path only: decoding the escapes joins valid surrogate pairs, lone ones stay and fail.
    try:
        json.dumps(loads(body), ensure_ascii=False, default=str).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return False
    return True


def backoff_delay(
    attempt: int, initial: float, maximum: float, rand: Callable[[], float]
) -> float:
    """Exponential back-off capped at ``maximum`` with "equal jitter": half fixed, half random."""
    base = min(maximum, initial * (2 ** min(attempt, 30)))
    return base / 2 + base / 2 * rand()


def refresh_delay(lifetime: float) -> float:
    """When to re-send ``AuthToken`` (§2.9): at 80 % of the lifetime, never later than 3 minutes
    before expiry, but not before half of a short lifetime."""
    lifetime = max(0.0, lifetime)
    return max(min(0.8 * lifetime, lifetime - 180.0), 0.5 * lifetime)
