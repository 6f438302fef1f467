"""Subscriptions to security and trading-session status (35=e and 35=g with 263=1). No I/O.

A SecurityStatusRequest with SubscriptionRequestType 1 gets the current SecurityStatus(f) and then
an unsolicited f (UnsolicitedIndicator 325=Y) whenever the security's Zenith ``TradingState``
changes (``Security!`` diffs, §4.11). A TradingSessionStatusRequest with 263=1 gets an unsolicited
TradingSessionStatus(h) whenever its market's ``Status`` changes (``Markets`` publishes, §4.1).
263=2 with the same request ID ends either. The caller owns the Zenith subscriptions: the
registry says which topics became needed or unneeded, and turns publishes into messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.bridge.marketdata.messages import (
    security_status,
    trading_session_status,
    trading_status_from_allows,
)
from gateway.bridge.marketdata.request import MDInstrument
from gateway.vocab.records import OutboundMessage, SessionKey

__all__ = ["StatusRegistry"]

Sub = tuple[SessionKey, str]  # (session, request ID)


class StatusRegistry:
    def __init__(self) -> None:
        self.security: dict[MDInstrument, dict[Sub, str]] = {}  # -> profile per subscriber
        self.last_state: dict[MDInstrument, str | None] = {}
        self.security_data: dict[MDInstrument, dict[str, Any]] = {}
        self.sessions: dict[str, dict[Sub, str]] = {}  # market code -> subscribers
        self.last_status: dict[str, str | None] = {}
        self.trading_states: dict[str, list[Mapping[str, Any]]] = {}  # market -> QueryTradingStates

    # -- SecurityStatus ------------------------------------------------------------------------

    def add_security(
        self,
        session: SessionKey,
        req_id: str,
        profile: str,
        instrument: MDInstrument,
        security: Mapping[str, Any],
    ) -> bool:
        """Register; True when ``Security!`` for the instrument must now be subscribed."""
        subs = self.security.setdefault(instrument, {})
        first = not subs
        subs[(session, req_id)] = profile
        if first:
            self.security_data[instrument] = dict(security)
            self.last_state[instrument] = security.get("TradingState")
        return first

    def remove_security(self, session: SessionKey, req_id: str) -> list[MDInstrument]:
        """Forget a subscription; returns instruments nobody watches any more."""
        released: list[MDInstrument] = []
        for instrument, subs in list(self.security.items()):
            if subs.pop((session, req_id), None) is not None and not subs:
                del self.security[instrument]
                self.last_state.pop(instrument, None)
                self.security_data.pop(instrument, None)
                released.append(instrument)
        return released

    def has_security(self, session: SessionKey, req_id: str) -> bool:
        return any((session, req_id) in subs for subs in self.security.values())

    def on_security(
        self, instrument: MDInstrument, data: Mapping[str, Any], now: datetime
    ) -> list[OutboundMessage]:
        """A ``Security!`` publish (full state or diff): an f per subscriber if TradingState changed."""
        subs = self.security.get(instrument)
        if not subs:
            return []
        record = self.security_data.setdefault(instrument, {})
        if "Code" in data:
            record.clear()
        record.update(data)
        state = record.get("TradingState")
        if state == self.last_state.get(instrument):
            return []
        self.last_state[instrument] = state
        table = self.trading_states.get(instrument.market, [])
        entry = next((s for s in table if s.get("Name") == state), None) or (
            {"Name": state} if state else None
        )
        out: list[OutboundMessage] = []
        for (session, req_id), profile in subs.items():
            status = trading_status_from_allows(profile, entry)
            out.append(
                OutboundMessage(
                    session,
                    "f",
                    security_status(profile, req_id, instrument, status, record, now, unsolicited=True),
                )
            )
        return out

    # -- TradingSessionStatus ------------------------------------------------------------------

    def add_session(
        self, session: SessionKey, req_id: str, profile: str, market: str, status: str | None
    ) -> bool:
        """Register; True when the ``Markets`` topic must now be subscribed."""
        first = not any(self.sessions.values())
        self.sessions.setdefault(market, {})[(session, req_id)] = profile
        self.last_status.setdefault(market, status)
        return first

    def remove_session_status(self, session: SessionKey, req_id: str) -> bool:
        """Forget; True when nobody watches any market any more (release ``Markets``)."""
        found = False
        for subs in self.sessions.values():
            found = subs.pop((session, req_id), None) is not None or found
        return found and not any(self.sessions.values())

    def has_session_status(self, session: SessionKey, req_id: str) -> bool:
        return any((session, req_id) in subs for subs in self.sessions.values())

    def on_markets(self, markets: Any) -> list[OutboundMessage]:
        """A ``Markets`` publish (complete Market State objects): an h per subscriber on change."""
        out: list[OutboundMessage] = []
        for market in markets if isinstance(markets, list) else []:
            if not isinstance(market, Mapping):
                continue
            code = market.get("Code")
            if not isinstance(code, str):
                continue
            subs = self.sessions.get(code)
            status = market.get("Status")
            if not subs or status == self.last_status.get(code):
                continue
            self.last_status[code] = status
            for (session, req_id), profile in subs.items():
                out.append(
                    OutboundMessage(
                        session, "h", trading_session_status(profile, req_id, code, status, unsolicited=True)
                    )
                )
        return out

    # -- sessions --------------------------------------------------------------------------------

    def drop_session(self, session: SessionKey) -> tuple[list[MDInstrument], bool]:
        """Logout: (instruments to release, whether to release ``Markets``)."""
        released: list[MDInstrument] = []
        for subs in list(self.security.values()):
            for key in [k for k in subs if k[0] == session]:
                released += self.remove_security(*key)
        markets = False
        for subs in self.sessions.values():
            for key in [k for k in subs if k[0] == session]:
                markets = self.remove_session_status(*key) or markets
        return released, markets
