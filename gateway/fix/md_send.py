"""One ``quickfix.Message`` per shared market-data body, reused for every session it goes to.

The market-data fan-out builds one body per (stream, event) and sends it to every subscriber
with only MDReqID(262) differing (``gateway.bridge.marketdata``). Converting each copy with
:func:`gateway.fix.convert.to_quickfix` re-renders the wire text and has QuickFIX parse it
with the data dictionary (the groups need it), the biggest Python cost per copy. Here the
first copy is converted that way and kept; later copies of the same body for sessions with the
same dictionaries only set their MDReqID on the kept message before it is sent (nothing at all
when the previous copy had the same MDReqID), from a field object kept per MDReqID.

Why reuse is safe: ``Session::send`` writes the whole standard header itself (BeginString,
CompIDs, MsgSeqNum, SendingTime: ``Session::fill``), recomputes BodyLength and CheckSum when
it serialises, and keeps only the serialised text (store, resend), never the object. The one
QuickFIX option that adds a header field of a session's own on every send,
EnableLastMsgSeqNumProcessed (369), is never rendered by the gateway (a test checks it): on for
some sessions only, the others' copies could carry a 369 left by them. QuickFIX orders body
fields by tag number (groups by the dictionary), so setting 262 on the kept message gives the
same wire text as parsing the copy's own text. Everything runs on the loop thread, one
send at a time, so no two sends share the object at once.

While QuickFIX sends such a copy the outbox sets ``sending_md``, and the application's toApp
skips its DefaultApplVerID(1137) clean-up (meant for QuickFIX's own 35=j; a SWIG call per copy):
these bodies are the gateway's own W/X, built without 1137.

A message qualifies by carrying ``shared_body`` (the shared tuple, without 262) and ``req_id``
attributes: :class:`gateway.bridge.marketdata.state.SharedBodyMessage`, read here by duck
typing because ``fix`` may not import the bridge. Anything else goes through the converter
given (``to_quickfix``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import _quickfix  # type: ignore[import-not-found]
import quickfix as fix

from gateway.fix.convert import Dictionaries, MessageDictionaries, to_quickfix
from gateway.vocab.records import Fields, OutboundMessage

__all__ = ["SharedBodyConverter"]

MD_REQ_ID = 262
REQ_FIELDS_KEPT = 4096   # MDReqID field objects kept (one per live subscription is the need)
# FieldMap.setField without quickfix.py's Python wrapper frame (one per copy).
_set_field = _quickfix.FieldMap_setField
Converter = Callable[[OutboundMessage, Dictionaries | MessageDictionaries | None], fix.Message]


class SharedBodyConverter:
    """``(msg, dictionaries) -> quickfix.Message``: a drop-in for ``to_quickfix`` that reuses the
    message built for a shared body.

    ``limit`` bounds the bodies kept: a body is sent to all its subscribers within a few loop
    turns of being built, so only the most recent ones are worth keeping. Each kept entry holds
    a reference to its body, so the ``id`` it is keyed on cannot be reused while it is kept.
    """

    def __init__(self, fallback: Converter = to_quickfix, limit: int = 256) -> None:
        self._fallback = fallback
        self._limit = max(1, limit)
        # (id(body), share token) -> [body, message, the MDReqID it carries now]
        self._kept: dict[tuple[int, int], list[Any]] = {}
        # A lane's dictionaries -> MsgType -> (BeginString, share token). The token numbers what
        # decides how the text parses (MsgType, BeginString and the dictionary objects): copies
        # with the same token can share a message. Found once per lane and type, not per copy
        # (per copy it cost a for_msg_type call and a five-item key). Keyed by the object itself,
        # so it stays alive and its id cannot be reused by another one.
        self._shares: dict[object, dict[str, tuple[str, int]]] = {}
        self._tokens: dict[tuple[str, str, int, int], int] = {}
        # MDReqID -> its 262 field object: setField(field, overwrite) costs 0.3 us where
        # setField(262, text) costs 2.1 us (SWIG's overload dispatch and the string conversion).
        self._req_fields: dict[str, fix.FieldBase] = {}
        # The last copy's (body, dictionaries as given, MsgType, kept entry, BeginString): the
        # next copy of the same update skips the look-ups above (see __call__).
        self._last: tuple[Any, ...] = (None, None, None, None, None)
        self.built = 0  # messages built for a shared body (first copy)
        self.reused = 0  # copies sent from a kept message

    def __call__(
        self, msg: OutboundMessage, dictionaries: Dictionaries | MessageDictionaries | None
    ) -> fix.Message:
        body: Fields | None = getattr(msg, "shared_body", None)
        if body is None:
            return self._fallback(msg, dictionaries)
        msg_type = msg.msg_type
        last = self._last
        if body is last[0] and dictionaries is last[1] and msg_type == last[2]:
            # The previous copy's body, dictionaries and type: the copies of an update go out one
            # after the other (one per session in a drain pass), so most copies end here, with no
            # share or kept look-up. The begin string is checked too: sessions of another FIX
            # version could share the dictionaries (None) and must not share the message.
            kept = last[3]
            begin = msg.session.begin_string
            if begin is last[4] or begin == last[4]:
                req_id: str = msg.req_id  # type: ignore[attr-defined]
                message = kept[1]
                if req_id != kept[2]:
                    field = self._req_fields.get(req_id)
                    if field is None:
                        field = self._req_field(req_id)
                    _set_field(message, field, True)
                    kept[2] = req_id
                self.reused += 1
                return message
        begin = msg.session.begin_string
        per = self._shares.get(dictionaries)
        share = per.get(msg_type) if per is not None else None
        if share is None or share[0] != begin:
            share = self._share(dictionaries, msg_type, begin)
        key = (id(body), share[1])
        kept = self._kept.get(key)
        if kept is not None and kept[0] is body:
            self._last = (body, dictionaries, msg_type, kept, begin)
            message = kept[1]
            # The header is left as the last send wrote it: Session::fill writes every field of
            # it again (see the module's docstring); clearing it would cost ~3.5 us per copy.
            req_id = msg.req_id  # type: ignore[attr-defined]
            if req_id != kept[2]:   # sessions whose partners chose the same MDReqID share it as is
                field = self._req_fields.get(req_id)
                if field is None:
                    field = self._req_field(req_id)
                _set_field(message, field, True)
                kept[2] = req_id
            self.reused += 1
            return message
        given = dictionaries
        if isinstance(dictionaries, MessageDictionaries):
            dictionaries = dictionaries.for_msg_type(msg_type)
        message = self._fallback(msg, dictionaries)
        if len(self._kept) >= self._limit:
            del self._kept[next(iter(self._kept))]  # the oldest: dicts keep insertion order
        kept = self._kept[key] = [body, message, getattr(msg, "req_id", None)]
        self._last = (body, given, msg_type, kept, begin)
        self.built += 1
        return message

    def _req_field(self, req_id: str) -> fix.FieldBase:
        if len(self._req_fields) >= REQ_FIELDS_KEPT:
            self._req_fields.clear()   # MDReqIDs come and go with subscriptions: start again
        field = self._req_fields[req_id] = fix.StringField(MD_REQ_ID, req_id)
        return field

    def _share(self, dictionaries: Dictionaries | MessageDictionaries | None, msg_type: str,
               begin: str) -> tuple[str, int]:
        resolved = (dictionaries.for_msg_type(msg_type) if isinstance(dictionaries, MessageDictionaries)
                    else dictionaries)
        # The dictionaries decide how the text parses into groups: same objects, same message.
        dd_session: Any = resolved.session if resolved is not None else None
        dd_app: Any = resolved.app if resolved is not None else None
        ident = (msg_type, begin, id(dd_session), id(dd_app))
        token = self._tokens.get(ident)
        if token is None:
            token = self._tokens[ident] = len(self._tokens)
        share = (begin, token)
        self._shares.setdefault(dictionaries, {})[msg_type] = share
        return share
