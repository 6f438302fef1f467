"""``plxtra-fix admin``: the operator's terminal client of a running gateway's admin API.

    plxtra-fix admin --config config/gateway.yaml sessions
    plxtra-fix admin --url http://127.0.0.1:9879 --token "$PLXTRA_ADMIN_TOKEN" logout client1

With ``--config`` the address and the first token come from the gateway's YAML (``admin:``);
else ``--url`` and ``--token`` (or ``PLXTRA_ADMIN_TOKEN``). Output is a table, or the API's
JSON with ``--json``. Exit codes: 0 done, 1 refused by the gateway (the reason is printed),
2 usage or configuration error, 3 gateway unreachable; ``health`` exits 1 when not ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

__all__ = ["configure", "run"]

_NAMED = ("session", "logout", "logon", "disable", "enable", "reset-seq", "set-seq")


def configure(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--config", default=None, help="gateway YAML: admin address and token from it")
    where.add_argument("--url", default=None, help="admin API base URL, e.g. http://127.0.0.1:9879")
    parser.add_argument("--token", default=None, help="bearer token (default: $PLXTRA_ADMIN_TOKEN)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")
    sub = parser.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)
    sub.add_parser("sessions", help="list sessions: state, sequence numbers, last messages, orders")
    sub.add_parser("health", help="readiness: exit 0 when ready, 1 when not (names the part)")
    sub.add_parser("metrics", help="print the Prometheus metrics")
    reload = sub.add_parser("reload", help="re-read the session list: added sessions start, removed "
                            "ones log out")
    reload.add_argument("--no-bounce", action="store_true",
                        help="do not rebuild the acceptor (its partners stay on; added acceptor "
                             "sessions wait for a restart)")
    for name, help_text in (("session", "one session in detail"), ("logout", "log a session out"),
                            ("logon", "enable a session (initiators connect)"),
                            ("disable", "log out and refuse its logons until enabled"),
                            ("enable", "accept the partner's logons again"),
                            ("reset-seq", "reset both sequence numbers to 1 (logged out only)"),
                            ("set-seq", "set the next sequence numbers (logged out only)")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("name", help="the session's name in the config")
        if name == "logout":
            p.add_argument("--text", default=None, help="Text(58) of the Logout")
        if name == "set-seq":
            p.add_argument("--sender", type=int, default=None, help="our next outgoing MsgSeqNum")
            p.add_argument("--target", type=int, default=None, help="the next MsgSeqNum expected from them")
    p = sub.add_parser("cancel-all", help="kill switch: cancel every working order of a session or account")
    p.add_argument("name", nargs="?", default=None, help="the session's name in the config")
    p.add_argument("--account", default=None, help="a Plxtra account instead, e.g. XS:0001")


def _target(args: argparse.Namespace) -> tuple[str, str]:
    token = args.token or os.environ.get("PLXTRA_ADMIN_TOKEN")
    if args.config:
        from gateway.config.loader import load_config

        cfg = load_config(args.config)
        if not cfg.admin.enabled:
            raise SystemExit(f"plxtra-fix admin: {args.config} has no admin: section (the API is off)")
        host = cfg.admin.listen_host
        host = "127.0.0.1" if host in ("0.0.0.0", "", "*") else ("[::1]" if host == "::" else host)
        return f"http://{host}:{cfg.admin.listen_port}", token or cfg.admin.tokens[0][1]
    if not args.url:
        raise SystemExit("plxtra-fix admin: give --config FILE or --url URL")
    if not token:
        raise SystemExit("plxtra-fix admin: give --token or set PLXTRA_ADMIN_TOKEN")
    return args.url.rstrip("/"), token


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    cmd = args.admin_command
    if cmd == "sessions":
        return "GET", "/sessions", None
    if cmd == "health":
        return "GET", "/readyz", None
    if cmd == "metrics":
        return "GET", "/metrics", None
    if cmd == "reload":
        return "POST", "/reload?bounce=false" if args.no_bounce else "/reload", None
    if cmd == "session":
        return "GET", f"/sessions/{args.name}", None
    if cmd == "cancel-all":
        if args.account and not args.name:
            return "POST", f"/accounts/{args.account}/cancel-all", None
        if args.name and not args.account:
            return "POST", f"/sessions/{args.name}/cancel-all", None
        raise SystemExit("plxtra-fix admin cancel-all: give a session NAME or --account, not both")
    body: dict[str, Any] = {}
    if cmd == "logout" and args.text:
        body["text"] = args.text
    if cmd == "set-seq":
        pairs = (("next_sender", args.sender), ("next_target", args.target))
        body = {k: v for k, v in pairs if v is not None}
    return "POST", f"/sessions/{args.name}/{cmd}", body or None


async def _call(url: str, token: str, method: str, path: str, body: Any) -> tuple[int, Any]:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.request(
            method, url + path, headers={"Authorization": f"Bearer {token}"}, json=body) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


def run(args: argparse.Namespace) -> int:
    try:
        url, token = _target(args)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    except Exception as exc:   # a config error names file and line
        print(f"plxtra-fix admin: {exc}", file=sys.stderr)
        return 2
    try:
        method, path, body = _request(args)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        status, answer = asyncio.run(_call(url, token, method, path, body))
    except OSError as exc:
        print(f"plxtra-fix admin: cannot reach {url}: {exc}", file=sys.stderr)
        return 3
    except Exception as exc:   # aiohttp's ClientError tree and timeouts
        print(f"plxtra-fix admin: cannot reach {url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    if args.admin_command == "metrics" and status == 200:
        print(answer, end="")
        return 0
    if args.json:
        print(json.dumps(answer, indent=2))
    elif status >= 400 and args.admin_command != "health":
        error = answer.get("error") if isinstance(answer, dict) else answer
        print(f"plxtra-fix admin: {error} (HTTP {status})", file=sys.stderr)
    else:
        print(render(args.admin_command, answer))
    if args.admin_command == "health":
        return 0 if status == 200 else 1
    return 0 if status < 400 else 1


# -- tables ------------------------------------------------------------------------------------------

_COLUMNS = (("NAME", "name"), ("ROLE", "role"), ("STATE", "state"), ("REMOTE", "remote_address"),
            ("SEQ OUT", "next_sender_seq_num"), ("SEQ IN", "next_target_seq_num"),
            ("LAST IN", "last_in"), ("LAST OUT", "last_out"), ("ORDERS", "open_orders"),
            ("QUEUED", "queued_reports"), ("MD", "md_subscriptions"))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str) and len(value) > 20 and value.endswith("Z"):   # ISO time: keep the clock
        return value[11:23]
    return str(value)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def render(command: str, answer: Any) -> str:
    if command == "sessions" and isinstance(answer, dict):
        rows = [[title for title, _ in _COLUMNS]]
        rows += [[_cell(s.get(key)) for _, key in _COLUMNS] for s in answer.get("sessions", [])]
        return table(rows)
    if command == "health" and isinstance(answer, dict):
        lines = ["ready" if answer.get("ready") else "NOT READY"]
        for part, state in answer.get("parts", {}).items():
            lines.append(f"  {part:<14} {'ok' if state['ready'] else 'NOT READY':<10} {state['detail']}")
        return "\n".join(lines)
    if isinstance(answer, dict):
        return table([[str(k), _cell(v) if not isinstance(v, (dict, list)) else json.dumps(v)]
                      for k, v in answer.items()])
    return str(answer)
