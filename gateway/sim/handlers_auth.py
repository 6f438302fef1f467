"""Auth controller (spec §2.4-§2.7) and Zenith controller (spec §6.1) handlers."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.sim.dispatch import action, subscription
from gateway.sim.wire import DataError, fmt_datetime, fmt_timespan, opt_str

if TYPE_CHECKING:
    from gateway.sim.server import SimServer
    from gateway.sim.session import Session

__all__ = ["identify_payload"]


def identify_payload(srv: SimServer, sess: Session) -> dict[str, Any]:
    """Identify payload (spec §2.7, §8.3): Result, UserID, DisplayName, AccessToken, ExpiryDate, ExpiresIn,
    Scope."""
    if sess.user is None:
        return {"Result": srv.cfg.auth.reject_result}
    remaining = sess.expires_at - time.time()
    expiry = datetime.fromtimestamp(sess.expires_at, UTC).astimezone(srv.tz)
    return {
        "Result": "Success",
        "UserID": sess.user.user_id,
        "DisplayName": sess.user.display_name,
        "AccessToken": sess.token,
        "ExpiryDate": fmt_datetime(expiry),
        "ExpiresIn": fmt_timespan(max(0.0, remaining)),
        "Scope": sorted(sess.scopes),
    }


def _granted(srv: SimServer, sess: Session) -> dict[str, Any]:
    payload = identify_payload(srv, sess)
    if ("Auth", "Identify") in sess.subs:  # spec §2.7: publish again after every successful auth
        from gateway.sim.wire import container

        sess.send(container("Auth", "Identify", payload))
    return payload


@action("Auth", "AuthToken", needs_data=True, public=True)
def auth_token(srv: SimServer, sess: Session, data: Any) -> Any:
    if not isinstance(data, dict):
        raise DataError("Data")
    token = opt_str(data, "AccessToken")
    opt_str(data, "Provider")
    found = srv.lookup_token(token or "")
    if found is None:
        return {"Result": srv.cfg.auth.reject_result}
    srv.authenticate(sess, found[0], token or "", found[1])
    return _granted(srv, sess)


@action("Auth", "AuthOwner", needs_data=True, public=True)
def auth_owner(srv: SimServer, sess: Session, data: Any) -> Any:
    if not isinstance(data, dict):
        raise DataError("Data")
    name = opt_str(data, "UserName") or opt_str(data, "Username")
    password = opt_str(data, "Password")
    user = next((u for u in srv.cfg.auth.users if u.name == name), None)
    if user is None or password != user.password:
        return {"Result": srv.cfg.auth.reject_result}
    token = secrets.token_urlsafe(24)
    srv.issued_tokens[token] = user.name
    srv.authenticate(sess, user, token, False)
    return _granted(srv, sess)


@action("Auth", "AuthCode", needs_data=True, public=True)
def auth_code(srv: SimServer, sess: Session, data: Any) -> Any:
    if not isinstance(data, dict):
        raise DataError("Data")
    grant = opt_str(data, "AuthGrant") or ""
    found = srv.lookup_token(grant)
    if found is None:
        return {"Result": srv.cfg.auth.reject_result}
    srv.authenticate(sess, found[0], grant, found[1])
    return _granted(srv, sess)


@action("Auth", "QueryIdentify", public=True)
def query_identify(srv: SimServer, sess: Session, data: Any) -> Any:
    return identify_payload(srv, sess)


@subscription("Auth", "Identify", public=True, takes_argument=False)
def sub_identify(srv: SimServer, sess: Session, arg: str | None) -> Any:
    return identify_payload(srv, sess)


# ---------------------------------------------------------------------------------- Zenith controller


@subscription("Zenith", "ServerInfo", public=True, takes_argument=False)
def sub_server_info(srv: SimServer, sess: Session, arg: str | None) -> Any:
    sv = srv.cfg.server
    return {"Name": sv.name, "Class": "FeedProxy", "Version": sv.version, "Protocol": "2.0"}


@subscription("Zenith", "Feeds", public=True, takes_argument=False)
def sub_feeds(srv: SimServer, sess: Session, arg: str | None) -> Any:
    return [
        {"Name": "TradingAuthority", "Class": "Authority", "Status": "Active"},
        {"Name": srv.cfg.market.code, "Class": "Market", "Status": "Active"},
        {"Name": "OMS", "Class": "Trading", "Status": "Active"},
    ]
