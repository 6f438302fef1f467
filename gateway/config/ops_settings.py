"""Read the operations sections of ``gateway.yaml``: ``admin:``, ``gateway.tls``, ``gateway.logs``.

Called by ``loader.py``; like the other readers every problem goes to the shared
:class:`NodeReader` with file, line and key, and a broken section returns None.

* ``admin: {listen_host, listen_port, token, tokens: [{name, token}]}``: the admin HTTP API.
  A token is required (the API refuses every request without one); ``token`` is recorded in
  audit lines as ``admin``, ``tokens`` entries under their own names. Tokens shorter than 16
  characters are refused: they guard actions such as cancel-all.
* ``gateway.tls: {certificate, private_key, ca, verify_client, min_version}``: FIX over TLS.
* ``gateway.logs: {format, rotate, max_size_mb, keep_days, mask_secrets}``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from yaml.nodes import Node

from gateway.config.model import AdminSettings, LogSettings, TlsSettings
from gateway.config.yamlnodes import NodeReader, join_key

__all__ = ["ADMIN_KEYS", "LOG_KEYS", "MIN_TOKEN_LENGTH", "TLS_KEYS", "TLS_VERSIONS", "read_admin",
           "read_logs", "read_tls"]

ADMIN_KEYS = ("listen_host", "listen_port", "token", "tokens")
TOKEN_KEYS = ("name", "token")
TLS_KEYS = ("certificate", "private_key", "ca", "verify_client", "min_version")
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
LOG_KEYS = ("format", "rotate", "max_size_mb", "keep_days", "mask_secrets")
MIN_TOKEN_LENGTH = 16

PathReader = Callable[[Node, str], Path | None]


def read_admin(r: NodeReader, node: Node, key: str,
               host: Callable[[Node, str], str | None]) -> AdminSettings | None:
    m = r.mapping(node, key, ADMIN_KEYS)
    if m is None:
        return None
    values: dict[str, object] = {"enabled": True}
    ok = True
    if got := m.get("listen_host"):
        values["listen_host"] = host(*got)
        ok &= values["listen_host"] is not None
    if got := m.get("listen_port"):
        values["listen_port"] = r.integer(*got, minimum=1, maximum=65535)
        ok &= values["listen_port"] is not None
    tokens: list[tuple[str, str]] = []
    if got := m.get("token"):
        secret = _secret(r, *got)
        ok &= secret is not None
        if secret:
            tokens.append(("admin", secret))
    if got := m.get("tokens"):
        items = r.sequence(*got) or []
        for i, item in enumerate(items):
            item_key = join_key(got[1], i)
            tm = r.mapping(item, item_key, TOKEN_KEYS)
            if tm is None:
                ok = False
                continue
            name_got, secret_got = tm.get("name"), tm.get("token")
            if name_got is None or secret_got is None:
                r.error(item, item_key, "each token needs a name and a token")
                ok = False
                continue
            name, secret = r.string(*name_got), _secret(r, *secret_got)
            if name is None or secret is None:
                ok = False
                continue
            if any(name == n for n, _ in tokens):
                r.error(name_got[0], name_got[1], f"token name {name!r} is used twice")
                ok = False
                continue
            tokens.append((name, secret))
    if not tokens and ok:
        r.error(node, join_key(key, "token"), "missing: the admin API refuses every request without a "
                                              "token (write token: ${PLXTRA_ADMIN_TOKEN})")
        ok = False
    if not ok:
        return None
    values["tokens"] = tuple(tokens)
    return AdminSettings(**values)   # type: ignore[arg-type]


def _secret(r: NodeReader, node: Node, key: str) -> str | None:
    secret = r.string(node, key)
    if secret is not None and len(secret) < MIN_TOKEN_LENGTH:
        r.error(node, key, f"too short: an admin token needs at least {MIN_TOKEN_LENGTH} characters")
        return None
    return secret


def read_tls(r: NodeReader, node: Node, key: str, path: PathReader, *,
             server: bool) -> TlsSettings | None:
    """``server``: the acceptor's block (certificate and key required); else an initiator's."""
    m = r.mapping(node, key, TLS_KEYS)
    if m is None:
        return None
    values: dict[str, object] = {}
    ok = True
    for name in ("certificate", "private_key", "ca"):
        got = m.get(name)
        if got is None:
            continue
        file = path(*got)
        if file is not None and not file.is_file():
            r.error(got[0], got[1], f"file {str(file)!r} does not exist")
            file = None
        ok &= file is not None
        values[name] = file
    if ("certificate" in m) != ("private_key" in m):
        r.error(node, key, "certificate and private_key go together")
        ok = False
    if server and "certificate" not in m:
        r.error(node, join_key(key, "certificate"), "missing: a TLS acceptor needs a certificate and key")
        ok = False
    if got := m.get("verify_client"):
        values["verify_client"] = r.boolean(*got)
        ok &= values["verify_client"] is not None
    if got := m.get("min_version"):
        values["min_version"] = r.choice(*got, TLS_VERSIONS)
        ok &= values["min_version"] is not None
    if server and values.get("verify_client", True) and "ca" not in m:
        r.error(node, join_key(key, "ca"), "missing: verify_client needs the CA that signs partners' "
                                           "certificates (or set verify_client: false)")
        ok = False
    if not server and "ca" not in m:
        r.error(node, join_key(key, "ca"), "missing: an initiator verifies the partner's certificate "
                                           "against this CA")
        ok = False
    return TlsSettings(**values) if ok else None   # type: ignore[arg-type]


def read_logs(r: NodeReader, node: Node, key: str) -> LogSettings | None:
    m = r.mapping(node, key, LOG_KEYS)
    if m is None:
        return None
    values: dict[str, object] = {}
    ok = True
    if got := m.get("format"):
        values["format"] = r.choice(*got, ("text", "json"))
    if got := m.get("rotate"):
        values["rotate"] = r.choice(*got, ("daily", "size", "none"))
    if got := m.get("max_size_mb"):
        mb = r.integer(*got, minimum=1)
        values["max_bytes"] = mb * 1024 * 1024 if mb is not None else None
    if got := m.get("keep_days"):
        values["keep_days"] = r.integer(*got, minimum=1)
    if got := m.get("mask_secrets"):
        values["mask_secrets"] = r.boolean(*got)
    ok = all(v is not None for v in values.values())
    return LogSettings(**values) if ok else None   # type: ignore[arg-type]
