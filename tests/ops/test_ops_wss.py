"""wss:// to Zenith verifies Plxtra's certificate against ``zenith.ca``: a TLS front (made here
with the test PKI) before the simulator is trusted with the right CA and refused with another."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from gateway.app.testing import run_gateway_in_thread
from gateway.fix.testing import free_port
from gateway.sim.config import load_sim_config
from gateway.sim.testing import run_sim_in_thread
from tests.ops.certs import make_pki
from tests.ops.opshelpers import api, write_admin_config

pytestmark = pytest.mark.timeout(120)


@contextmanager
def tls_front(cert: Path, key: Path, backend_port: int) -> Iterator[int]:
    """A TLS terminator on 127.0.0.1 forwarding to ``backend_port`` (its own loop and thread)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", backend_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)
        started.set()
        async with server:
            await server.serve_forever()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except asyncio.CancelledError:   # how the fixture stops it
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield port
    finally:
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        thread.join(10)


def test_wss_zenith_is_verified_against_the_configured_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    sim_cfg = load_sim_config(None).with_overrides(activity=False, seed=7, state_path=tmp_path / "sim.sqlite")
    with run_sim_in_thread(sim_cfg) as sim, tls_front(pki.server.cert, pki.server.key, sim.port) as port:
        for ca, ready in ((pki.ca, True), (pki.rogue_ca, False)):
            fix_port = free_port()
            cfg, admin_port = write_admin_config(tmp_path / ca.stem, fix_port)
            doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
            doc["zenith"] = {"url": f"wss://localhost:{port}/Zenith", "token": "demo", "ca": str(ca)}
            cfg.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
            with run_gateway_in_thread(cfg, timeout=30):
                deadline = time.monotonic() + (10 if ready else 3)
                status, body = api(admin_port, "GET", "/readyz")
                while ready and status != 200 and time.monotonic() < deadline:
                    time.sleep(0.2)
                    status, body = api(admin_port, "GET", "/readyz")
                if ready:
                    assert status == 200, body
                else:
                    assert status == 503 and "zenith" in body["not_ready"], body
