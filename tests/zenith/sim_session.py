"""A real simulator on 127.0.0.1 and a started :class:`ZenithClient` connected to it, for the tests
that read every frame of a real session: the client's inbound text frames are tapped in wire order,
before the client handles each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from gateway.sim.config import load_sim_config
from gateway.sim.server import SimServer
from gateway.zenith import ZenithClient


@asynccontextmanager
async def simulator_session(tmp_path: Path, *, activity: bool, seed: int,
                            frames: list[str] | None = None) -> AsyncIterator[ZenithClient]:
    """The started client; with ``frames``, each inbound text frame is appended to it first."""
    cfg = load_sim_config(None).with_overrides(activity=activity, seed=seed,
                                               state_path=tmp_path / "sim.sqlite")
    sim = SimServer(cfg, host="127.0.0.1", port=0)
    await sim.start()
    client = ZenithClient(sim.url, "demo", request_timeout=5.0)
    try:
        await client.start()
        ws = client._ws
        assert ws is not None
        if frames is not None:
            handler = ws.on_message

            def tap(text: str) -> None:
                frames.append(text)
                handler(text)

            ws.on_message = tap
        yield client
    finally:
        await client.close()
        await sim.stop()
