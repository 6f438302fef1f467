"""``plxtra-fix sim``: the Plxtra Zenith simulator alone (ws://127.0.0.1:4502/Zenith by default)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from typing import Any

from gateway.sim.config import load_sim_config
from gateway.sim.errors import SimError
from gateway.sim.server import SimServer

__all__ = ["configure", "run"]

log = logging.getLogger("gateway.sim.cli")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", help="simulator YAML (default: built-in XOSP seed data; see config/sim.yaml)"
    )
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 4502; 0 = any free port)")
    parser.add_argument("--seed", type=int, help="seed for ids and the market generator")
    parser.add_argument(
        "--state",
        metavar="PATH",
        help="SQLite state file: orders, fills, positions survive restarts (empty: no state file)",
    )
    parser.add_argument("--activity", choices=("on", "off"), help="generated market activity (default on)")


def _setup_logging() -> None:
    """UTC with milliseconds and a ``Z``, in the same layout as the gateway's log lines
    (``2026-11-25 22:53:22.709Z INFO    name: text``). A copy of the gateway's small formatter,
    on purpose: the simulator imports no other ``gateway`` package."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s",
                                  datefmt="%Y-%m-%d %H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


async def _serve(server: SimServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await server.start()
    log.info("serving %s (state file: %s)", server.url, server.cfg.state_path or "none")
    print(
        f"plxtra simulator serving {server.url}?version=2.0 (token 'demo'; user XospAdmin/xosp)", flush=True
    )
    try:
        await stop.wait()
    finally:
        await server.stop()


def run(args: argparse.Namespace) -> int:
    _setup_logging()
    try:
        cfg = load_sim_config(args.config)
        overrides: dict[str, Any] = {}
        for name in ("host", "port", "seed"):
            if getattr(args, name) is not None:
                overrides[name] = getattr(args, name)
        if args.state is not None:
            # an empty (or blank) value means no state file, also overriding one set in --config
            overrides["state_path"] = args.state if args.state.strip() else None
        if args.activity:
            overrides["activity"] = args.activity == "on"
        cfg = cfg.with_overrides(**overrides)
        asyncio.run(_serve(SimServer(cfg)))
    except SimError as exc:
        print(f"plxtra-fix sim: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"plxtra-fix sim: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0
