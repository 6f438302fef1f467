"""HTTP view of a running certification (asyncio, stdlib only): JSON for a partner's tooling, server-sent
events and a plain HTML console for people.

    GET /status              the run: current step (prompt, what is expected), every step's status
    GET /steps/SUITE/ID      one step with its decoded FIX messages (tag names, enum meanings)
    GET /record              the record so far (JSON; the signed one is written by --record)
    GET /events              server-sent events: "step", "message", "session", "questionnaire", "end"
    POST /questionnaire      the capability answers as JSON (as the console's form sends them):
                             200 with the new status, 400 invalid answers, 409 not asked / answered
    GET /                    the web console (gateway/cert/console.html)

Small on purpose: one request per connection (``Connection: close``), bounded request size, no
framework. It binds where it is told (127.0.0.1 by default in the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from gateway.cert.errors import QuestionnaireError
from gateway.cert.record import build_record, sign_record

__all__ = ["StatusServer", "decode_fields"]

_CONSOLE = Path(__file__).with_name("console.html")
_MAX_REQUEST = 8192
_MAX_BODY = 16384


def decode_fields(begin_string: str, fields: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """Tag names and enum meanings from the QuickFIX data dictionary, as ``decode`` prints them."""
    try:
        from gateway.harness.dictionary import dictionary_for

        dictionary = dictionary_for(begin_string, None, "9" if begin_string == "FIXT.1.1" else None)
    except Exception:   # no dictionary installed: numbers only, still readable
        dictionary = None
    out = []
    for tag, value in fields:
        name = dictionary.field_name(tag) if dictionary is not None else None
        meaning = dictionary.value_meaning(tag, value) if dictionary is not None else None
        out.append({"tag": tag, "name": name, "value": value, "meaning": meaning})
    return out


class StatusServer:
    def __init__(self, run: Any, host: str = "127.0.0.1", port: int = 0, *, key: bytes | None = None) -> None:
        self.run = run
        self.key = key          # signs /record once the run has ended (as --record does)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.Queue[str | None]] = set()
        run.listeners.append(self._on_event)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for queue in list(self._streams):
            queue.put_nowait(None)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    # ------------------------------------------------------------------ events
    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        text = f"event: {kind}\ndata: {json.dumps(data)}\n\n"
        for queue in self._streams:
            queue.put_nowait(text)

    # ------------------------------------------------------------------ requests
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        if len(head) > _MAX_REQUEST:
            await self._reply(writer, 431, "text/plain", b"request too large")
            return
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
        path = path.split("?", 1)[0]
        try:
            if method == "POST" and path == "/questionnaire":
                await self._questionnaire(reader, writer, head)
            elif method != "GET":
                await self._reply(writer, 405, "text/plain", b"GET only (POST: /questionnaire)")
            elif path == "/events":
                await self._events(writer)
            elif path == "/status":
                await self._json(writer, self.run.snapshot())
            elif path == "/record":
                record = build_record(self.run, log_path=self.run.options.log_path)
                if self.run.ended is not None:
                    record = sign_record(record, self.key)
                await self._json(writer, record)
            elif path.startswith("/steps/"):
                await self._step(writer, path[len("/steps/"):])
            elif path in ("/", "/index.html"):
                await self._reply(writer, 200, "text/html; charset=utf-8", _CONSOLE.read_bytes())
            else:
                await self._reply(writer, 404, "text/plain", b"not found")
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _questionnaire(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             head: bytes) -> None:
        length = 0
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                length = int(value.strip())
        if not 0 < length <= _MAX_BODY:
            await self._problem(writer, 400, f"a JSON body of 1..{_MAX_BODY} bytes with Content-Length")
            return
        try:
            body = await asyncio.wait_for(reader.readexactly(length), 10.0)
            answers = json.loads(body)
        except (asyncio.IncompleteReadError, TimeoutError):
            return
        except ValueError as exc:
            await self._problem(writer, 400, f"not JSON: {exc}")
            return
        if not self.run.awaiting_questionnaire:
            await self._problem(writer, 409, "the questionnaire is closed: answered already or not asked")
            return
        try:
            self.run.answer_questionnaire(answers)
        except QuestionnaireError as exc:
            await self._problem(writer, 400, str(exc))
            return
        await self._json(writer, self.run.snapshot())

    async def _problem(self, writer: asyncio.StreamWriter, status: int, text: str) -> None:
        await self._reply(writer, status, "application/json", json.dumps({"error": text}).encode())

    async def _step(self, writer: asyncio.StreamWriter, key: str) -> None:
        state = next((s for s in self.run.states if s.key == key), None)
        if state is None:
            await self._reply(writer, 404, "text/plain", b"no such step")
            return
        data = state.to_json()
        messages = []
        if state.first_message is not None:
            end = state.last_message if state.last_message is not None else len(self.run.log.entries) - 1
            for entry in self.run.log.entries[state.first_message:end + 1]:
                messages.append({"index": entry.index, "direction": entry.direction,
                                 "time": entry.time.isoformat(timespec="milliseconds"),
                                 "msg_type": entry.msg_type, "checksum_ok": entry.checksum_ok,
                                 "fields": decode_fields(self.run.options.begin_string, entry.fields())})
        data["decoded"] = messages
        await self._json(writer, data)

    async def _events(self, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     b"Connection: close\r\n\r\n")
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._streams.add(queue)
        try:
            writer.write(f"event: snapshot\ndata: {json.dumps(self.run.snapshot())}\n\n".encode())
            await writer.drain()
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), 15.0)
                except TimeoutError:
                    item = ": keep-alive\n\n"      # lets a dead client be noticed
                if item is None:
                    return
                writer.write(item.encode())
                await writer.drain()
        finally:
            self._streams.discard(queue)

    async def _json(self, writer: asyncio.StreamWriter, data: Any) -> None:
        await self._reply(writer, 200, "application/json", json.dumps(data, indent=1).encode())

    async def _reply(self, writer: asyncio.StreamWriter, status: int, kind: str, body: bytes) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
                  431: "Too Large"}.get(status, "")
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                     f"Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
