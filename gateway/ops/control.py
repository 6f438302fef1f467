"""Operator actions on a running gateway: what the admin API and ``plxtra-fix admin`` do.

:class:`SessionControl` lists sessions and acts on them by their configured ``name``: logon,
logout, disable/enable (a disabled partner's Logon is refused with a clear Text by
:meth:`logon_refusal`, which the hand-off's logon policy calls), set or reset sequence numbers
(only while logged out: QuickFIX renumbers a live session only through its own protocol),
cancel all working orders of a session or account (the kill switch) and reload of the session
list. Every action writes one audit line (logger ``gateway.audit``): who (the token's name),
what, and the result.

Blocking QuickFIX calls (they take the session's mutex, which a writer stuck on a full TCP
window may hold) run in a worker thread via ``asyncio.to_thread``, never on the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import quickfix as fix

from gateway.config.model import GatewayConfig, Role, SessionConfig
from gateway.fix.convert import session_id_of
from gateway.ops.events import SessionWatch
from gateway.ops.metrics import GatewayMetrics
from gateway.vocab.records import SessionKey

__all__ = ["ActionError", "OrdersControl", "SessionControl", "key_of_session"]

audit = logging.getLogger("gateway.audit")

DISABLED_TEXT = "Session disabled by the operator: contact Plxtra support"


class ActionError(Exception):
    """An action that cannot be done; ``status`` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@runtime_checkable
class OrdersControl(Protocol):
    """What the orders service offers operators (``gateway.app.orders_service.OrdersService``)."""

    def open_order_count(self, name: str) -> int: ...

    def queued_report_count(self, name: str) -> int: ...

    def cancel_all(self, *, name: str | None = None, account: str | None = None) -> int: ...


def key_of_session(s: SessionConfig) -> SessionKey:
    return SessionKey(s.begin_string, s.sender_comp_id, s.target_comp_id)


@dataclass(frozen=True, slots=True)
class _Live:
    logged_on: bool
    enabled: bool
    next_sender: int | None
    next_target: int | None


def _live(key: SessionKey) -> _Live | None:
    session = fix.Session.lookupSession(session_id_of(key))
    if session is None:
        return None
    return _Live(session.isLoggedOn(), session.isEnabled(), session.getExpectedSenderNum(),
                 session.getExpectedTargetNum())


class SessionControl:
    """The actions, on the loop thread (each ``async``); ``logon_refusal`` from QuickFIX's fromAdmin."""

    def __init__(self, config: GatewayConfig, watch: SessionWatch, metrics: GatewayMetrics,
                 outbox: Any = None, orders: OrdersControl | None = None,
                 md_requests: Callable[[SessionKey], int] | None = None,
                 reload_config: Callable[[], GatewayConfig] | None = None) -> None:
        self.config = config
        self.watch = watch
        self.metrics = metrics
        self.outbox = outbox
        self.orders = orders
        self._md_requests = md_requests
        self._reload_config = reload_config
        # Starts the sessions a reload added: (new config, added names, bounce) -> what happened
        # (``Gateway.start_added_sessions``); None: added sessions wait for a restart.
        self.start_added: Callable[..., Awaitable[dict[str, list[str]]]] | None = None
        # Replaced whole, never mutated: readable from any thread without a lock.
        self.disabled: frozenset[str] = frozenset()
        self.removed: frozenset[str] = frozenset()

    # -- lookup ------------------------------------------------------------------------------------

    def _session(self, name: str) -> SessionConfig:
        for s in self.config.sessions:
            if s.name == name:
                return s
        names = ", ".join(s.name for s in self.config.sessions)
        raise ActionError(f"no session named {name!r} (sessions: {names})", status=404)

    def name_of_key(self, key: SessionKey) -> str | None:
        for s in self.config.sessions:
            if (s.begin_string, s.sender_comp_id, s.target_comp_id) == (
                    key.begin_string, key.sender_comp_id, key.target_comp_id):
                return s.name
        return None

    # -- the logon gate (QuickFIX callback, from the hand-off's fromAdmin) ------------------------

    def logon_refusal(self, key: SessionKey) -> str | None:
        """The Text(58) to refuse this Logon with, or None to let the logon policy go on."""
        name = self.name_of_key(key)
        if name is not None and (name in self.disabled or name in self.removed):
            return DISABLED_TEXT if name in self.disabled else "Session removed from the configuration"
        # Zenith down does not refuse logons: the orders service rejects orders with a clear Text
        # while it reconnects (README, "Zenith outages"), so partners keep their session.
        return None

    # -- views ---------------------------------------------------------------------------------------

    async def sessions(self) -> list[dict[str, Any]]:
        return [await self.session(s.name) for s in self.config.sessions]

    async def session(self, name: str) -> dict[str, Any]:
        s = self._session(name)
        key = key_of_session(s)
        live = await asyncio.to_thread(_live, key)
        info = self.watch.info(name)
        text = str(key)
        orders = self.orders
        state = "logged_on" if live and live.logged_on else "logged_out"
        if name in self.disabled:
            state = "disabled"
        return {
            "name": name,
            "session": s.session_key_text,
            "role": s.role.value,
            "transport": s.transport.value,
            "state": state,
            "logged_on": bool(live and live.logged_on),
            "enabled": name not in self.disabled,
            "remote_address": info.remote_address,
            "next_sender_seq_num": live.next_sender if live else None,
            "next_target_seq_num": live.next_target if live else None,
            "last_in": _iso(info.last_in), "last_in_type": info.last_in_type,
            "last_out": _iso(info.last_out), "last_out_type": info.last_out_type,
            "heartbeat_interval": info.heartbeat_interval or s.heartbeat_interval,
            "last_logout_text": info.last_logout_text,
            "last_refusal": info.last_refusal,
            "open_orders": orders.open_order_count(text) if orders else None,
            "queued_reports": orders.queued_report_count(text) if orders else None,
            "md_subscriptions": self._md_requests(key) if self._md_requests else None,
            "backlog": self.outbox.backlog(key) if self.outbox is not None else None,
            "accounts": list(s.accounts),
        }

    # -- actions -------------------------------------------------------------------------------------

    async def act(self, who: str, action: str, name: str | None, **params: Any) -> dict[str, Any]:
        """Run one action and write its audit line, whatever the outcome."""
        target = name or params.get("account") or "-"
        try:
            handler = getattr(self, f"_do_{action.replace('-', '_')}", None)
            if handler is None:
                raise ActionError(f"unknown action {action!r}", status=404)
            result = await handler(name, **params)
        except ActionError as exc:
            audit.warning("audit who=%s action=%s target=%s result=refused reason=%r", who, action, target,
                          str(exc))
            self.metrics.admin_actions.labels(action, "refused").inc()
            raise
        except Exception as exc:
            audit.error("audit who=%s action=%s target=%s result=failed error=%r", who, action, target,
                        f"{type(exc).__name__}: {exc}")
            self.metrics.admin_actions.labels(action, "failed").inc()
            raise
        audit.info("audit who=%s action=%s target=%s result=ok %s", who, action, target,
                   " ".join(f"{k}={v}" for k, v in result.items() if k != "action"))
        self.metrics.admin_actions.labels(action, "ok").inc()
        return {"action": action, "target": target, "result": "ok", **result}

    async def _do_logout(self, name: str | None, text: str = "Logout by the operator") -> dict[str, Any]:
        key = key_of_session(self._session(name or ""))
        live = await asyncio.to_thread(_live, key)
        if not (live and live.logged_on):
            raise ActionError(f"session {name} is not logged on")
        if self.outbox is not None:
            self.outbox.logout(key, text)   # after what is already queued; re-enabled once gone
        else:
            await asyncio.to_thread(_qf_logout, key, text)
        return {"text": text}

    async def _do_logon(self, name: str | None) -> dict[str, Any]:
        s = self._session(name or "")
        if s.name in self.disabled:
            raise ActionError(f"session {s.name} is disabled: enable it first")
        await asyncio.to_thread(_qf_enable, key_of_session(s))
        what = "connecting" if s.role is Role.INITIATOR else "accepting logons"
        return {"state": what}

    async def _do_disable(self, name: str | None, text: str = DISABLED_TEXT) -> dict[str, Any]:
        s = self._session(name or "")
        self.disabled = self.disabled | {s.name}
        key = key_of_session(s)
        live = await asyncio.to_thread(_live, key)
        logged_on = bool(live and live.logged_on)
        if s.role is Role.INITIATOR:
            # QuickFIX's logout also clears the enabled flag: the initiator stops reconnecting.
            await asyncio.to_thread(_qf_logout if logged_on else _qf_disable, key, text)
        elif logged_on:
            # The acceptor session stays enabled in QuickFIX (a disabled one drops a Logon without
            # a word); our logon gate refuses the partner's next Logon with the Text above.
            if self.outbox is not None:
                self.outbox.logout(key, text)
            else:
                await asyncio.to_thread(_qf_logout, key, text)
        return {"logged_out": logged_on}

    async def _do_enable(self, name: str | None) -> dict[str, Any]:
        s = self._session(name or "")
        self.disabled = self.disabled - {s.name}
        await asyncio.to_thread(_qf_enable, key_of_session(s))
        return {}

    async def _do_set_seq(self, name: str | None, next_sender: int | None = None,
                          next_target: int | None = None) -> dict[str, Any]:
        key = key_of_session(self._session(name or ""))
        for label, value in (("next_sender", next_sender), ("next_target", next_target)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ActionError(f"{label} must be a whole number >= 1", status=400)
        if next_sender is None and next_target is None:
            raise ActionError("give next_sender and/or next_target", status=400)
        live = await asyncio.to_thread(_set_seq, key, next_sender, next_target)
        self.metrics.sequence_resets.labels(name or "-", "operator").inc()
        return {"next_sender_seq_num": live.next_sender, "next_target_seq_num": live.next_target}

    async def _do_reset_seq(self, name: str | None) -> dict[str, Any]:
        return await self._do_set_seq(name, next_sender=1, next_target=1)

    async def _do_cancel_all(self, name: str | None, account: str | None = None) -> dict[str, Any]:
        if self.orders is None:
            raise ActionError("no orders service in this gateway", status=409)
        if name is None and account is None:
            raise ActionError("name a session or an account", status=400)
        session_text = None
        if name is not None:
            session_text = self._session(name).session_key_text
        if account is not None and not any(account in s.accounts for s in self.config.sessions):
            raise ActionError(f"account {account!r} is not used by any session", status=404)
        count = self.orders.cancel_all(name=session_text, account=account)
        return {"cancel_requested": count}

    async def _do_reload(self, name: str | None, bounce: bool = True) -> dict[str, Any]:
        """Removed sessions log out; added ones start (``bounce``: plain acceptor sessions need
        the acceptor rebuilt, which logs its partners out once; they log on again with their
        sequence numbers); changed ones are named with what needs a restart."""
        if self._reload_config is None:
            raise ActionError("this gateway was not started from a file", status=409)
        if not isinstance(bounce, bool):
            raise ActionError("bounce must be true or false", status=400)
        new = await asyncio.to_thread(self._reload_config)
        diff = session_diff(self.config, new)
        for removed in diff["removed"]:
            self.removed = self.removed | {removed}
            s = self._session(removed)
            live = await asyncio.to_thread(_live, key_of_session(s))
            if live and live.logged_on:
                await asyncio.to_thread(_qf_logout, key_of_session(s),
                                        "Session removed from the configuration")
        # Re-added sessions are served again (they were never taken out of QuickFIX).
        self.removed = self.removed - {s.name for s in new.sessions}
        outcome: dict[str, list[str]] = {"started": [], "bounced": [], "not_started": list(diff["added"])}
        if diff["added"] and self.start_added is not None:
            outcome = await self.start_added(new, diff["added"], bounce=bounce)
        # From now on the added sessions are listed and acted on; removed ones are not.
        self.config = new
        self.watch.set_names({f"{s.begin_string}:{s.sender_comp_id}->{s.target_comp_id}": s.name
                              for s in new.sessions})
        diff.update(outcome)
        diff["restart_needed"] = sorted([*outcome["not_started"], *diff["changed"]])
        return diff


def session_diff(old: GatewayConfig, new: GatewayConfig) -> dict[str, Any]:
    """What a reload changes: removed, added and changed sessions by name (changed ones with
    the fields that differ: they take effect at the next restart)."""
    before = {s.name: s for s in old.sessions}
    after = {s.name: s for s in new.sessions}
    changed: dict[str, list[str]] = {}
    for name in before.keys() & after.keys():
        a, b = before[name], after[name]
        fields = [f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)]
        if fields:
            changed[name] = fields
    added = sorted(after.keys() - before.keys())
    return {
        "removed": sorted(before.keys() - after.keys()),
        "added": added,
        "changed": changed,
    }


# -- QuickFIX calls (worker threads) ---------------------------------------------------------------

def _lookup(key: SessionKey) -> fix.Session:
    session = fix.Session.lookupSession(session_id_of(key))
    if session is None:
        raise ActionError(f"session {key} is not running in the FIX engine", status=409)
    return session


def _qf_logout(key: SessionKey, text: str) -> None:
    _lookup(key).logout(text)   # sends Logout(58=text) on the next tick; also disables the session


def _qf_disable(key: SessionKey, text: str = "disabled") -> None:
    _lookup(key).logout(text)   # not logged on: only clears the enabled flag


def _qf_enable(key: SessionKey) -> None:
    _lookup(key).logon()   # Session::logon() only sets the enabled flag


def _set_seq(key: SessionKey, sender: int | None, target: int | None) -> _Live:
    session = _lookup(key)
    if session.isLoggedOn():
        raise ActionError(f"session {key} is logged on: log it out first (sequence numbers change only "
                          "while logged out)")
    if sender is not None:
        session.setNextSenderMsgSeqNum(sender)
    if target is not None:
        session.setNextTargetMsgSeqNum(target)
    live = _live(key)
    assert live is not None
    return live


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value is not None else None
