"""The admin HTTP API, served by aiohttp on the gateway's own asyncio loop.

Why aiohttp: one library that serves and (for ``plxtra-fix admin`` and the tests) requests
HTTP on an asyncio loop we already own, with no second server loop, thread or ASGI layer;
it is maintained by the aio-libs group and widely deployed. (Starlette needs uvicorn, which
wants to own the loop and the process's signals.)

Every request needs ``Authorization: Bearer <token>`` of a configured token, health probes
included: the API can cancel every order, and a probe sends a header as easily as a browser.
Answers are JSON (``/metrics``: Prometheus text). Endpoints:

=======  ===================================  ============================================
GET      /healthz                             200 while the process serves requests
GET      /readyz                              200 ready / 503 with the parts not ready
GET      /metrics                             Prometheus text exposition
GET      /sessions                            every session (state, seqnums, last in/out...)
GET      /sessions/{name}                     one session
POST     /sessions/{name}/logout              body ``{"text": ...}`` optional
POST     /sessions/{name}/logon               enable and (initiator) connect
POST     /sessions/{name}/disable             logs out; next Logon refused with a clear Text
POST     /sessions/{name}/enable
POST     /sessions/{name}/reset-seq           only while logged out: both to 1
POST     /sessions/{name}/set-seq             ``{"next_sender": N, "next_target": M}``
POST     /sessions/{name}/cancel-all          kill switch for the session's working orders
POST     /accounts/{account}/cancel-all       kill switch for one Plxtra account
POST     /reload[?bounce=false]               re-read the session list: added sessions start
=======  ===================================  ============================================
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.config.model import AdminSettings
from gateway.ops.control import ActionError, SessionControl
from gateway.ops.metrics import CONTENT_TYPE, GatewayMetrics

__all__ = ["AdminServer", "Readiness", "build_app"]

log = logging.getLogger("gateway.ops.http")

Readiness = Callable[[], dict[str, tuple[bool, str]]]   # part -> (ready, detail)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_WHO = web.RequestKey("who", str)   # the name of the token that authenticated the request
_ACTIONS = ("logout", "logon", "disable", "enable", "reset-seq", "set-seq", "cancel-all")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, indent=1, default=str), status=status,
                        content_type="application/json")


def build_app(admin: AdminSettings, control: SessionControl, metrics: GatewayMetrics,
              readiness: Readiness) -> web.Application:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        who = admin.token_name(secret.strip()) if scheme.lower() == "bearer" and secret else None
        if who is None:
            log.warning("admin API: %s %s refused from %s: %s", request.method, request.path, request.remote,
                        "bad token" if header else "no token")
            return _json({"error": "unauthorized: send Authorization: Bearer <token>"}, status=401)
        request[_WHO] = who
        try:
            return await handler(request)
        except ActionError as exc:
            return _json({"error": str(exc)}, status=exc.status)

    app = web.Application(middlewares=[authenticate])

    async def healthz(_: web.Request) -> web.Response:
        return _json({"status": "alive"})

    async def readyz(_: web.Request) -> web.Response:
        parts = readiness()
        not_ready = {name: detail for name, (ok, detail) in parts.items() if not ok}
        body: dict[str, Any] = {"ready": not not_ready,
                                "parts": {n: {"ready": ok, "detail": d} for n, (ok, d) in parts.items()}}
        if not_ready:
            body["not_ready"] = not_ready
        return _json(body, status=200 if not not_ready else 503)

    async def metrics_text(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def sessions(_: web.Request) -> web.Response:
        return _json({"sessions": await control.sessions()})

    async def session(request: web.Request) -> web.Response:
        return _json(await control.session(request.match_info["name"]))

    async def body_of(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            data = await request.json()
        except json.JSONDecodeError:
            raise ActionError("the body must be JSON", status=400) from None
        if not isinstance(data, dict):
            raise ActionError("the body must be a JSON object", status=400)
        return data

    async def session_action(request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action not in _ACTIONS:
            raise ActionError(f"unknown action {action!r} (one of {', '.join(_ACTIONS)})", status=404)
        body = await body_of(request)
        allowed = {"logout": {"text"}, "disable": {"text"}, "set-seq": {"next_sender", "next_target"},
                   "cancel-all": set()}.get(action, set())
        unknown = set(body) - allowed
        if unknown:
            raise ActionError(f"unknown parameter(s) for {action}: {', '.join(sorted(unknown))}", status=400)
        result = await control.act(request[_WHO], action, request.match_info["name"], **body)
        return _json(result)

    async def account_cancel_all(request: web.Request) -> web.Response:
        result = await control.act(request[_WHO], "cancel-all", None, account=request.match_info["account"])
        return _json(result)

    async def reload(request: web.Request) -> web.Response:
        # ?bounce=false: added plain acceptor sessions wait for a restart instead of the acceptor
        # being rebuilt (which logs its partners out once).
        bounce = request.query.get("bounce", "true").lower()
        if bounce not in ("true", "false"):
            return _json({"error": "bounce must be true or false"}, status=400)
        return _json(await control.act(request[_WHO], "reload", None, bounce=bounce == "true"))

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get("/sessions", sessions)
    app.router.add_get("/sessions/{name}", session)
    app.router.add_post("/sessions/{name}/{action}", session_action)
    app.router.add_post("/accounts/{account}/cancel-all", account_cancel_all)
    app.router.add_post("/reload", reload)
    return app


class AdminServer:
    """The API on ``admin.listen_host:listen_port`` (port 0: any free port, see ``port``)."""

    def __init__(self, admin: AdminSettings, app: web.Application) -> None:
        self.admin = admin
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._site: web.TCPSite | None = None
        self.port: int | None = None

    async def start(self) -> None:
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.admin.listen_host, self.admin.listen_port,
                                 reuse_address=True)
        await self._site.start()
        server = self._site._server   # aiohttp keeps the bound asyncio server here (port 0 resolves)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.admin.listen_port
        log.info("admin API on http://%s:%s (bearer token required)", self.admin.listen_host, self.port)
        if self.admin.listen_host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("admin API listens on %s: reachable beyond this host (plain HTTP, bearer token); "
                        "keep it on a private network or behind a TLS proxy", self.admin.listen_host)

    async def close(self) -> None:
        await self._runner.cleanup()
