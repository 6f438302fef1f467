"""``plxtra-fix run``: the FIX gateway as a long-running process.

With no ``--config`` it reads ``config/gateway.yaml`` from the current directory, else the
one of the checkout it runs from, else the demo configuration installed with the package
(``gateway/app/default_gateway.yaml``, kept identical to ``config/gateway.yaml`` by a test).
The installed copy's relative paths resolve as if it were ``./config/gateway.yaml``, so its
state (``../var/...``) lands in ``./var`` of the current directory, never in site-packages.
SIGINT/SIGTERM stop it cleanly: Logout on every session, then Zenith and the embedded
simulator are closed.

One gateway per state directory: a second ``run`` whose store, QuickFIX store or logs share a
directory with a running gateway exits 1 at once, before touching any state, with
``plxtra-fix run: state directory DIR is in use by PID N: ...`` (see
:mod:`gateway.app.state_lock`).

``--instance NAME`` serves only that instance's sessions, its state fenced by the instance's lease
in PostgreSQL (exit 2 without gateway.store: postgresql:// or an undeclared instance; exit 1 at
once when a running owner holds the lease; ``--standby`` waits for it instead; exit 3 when the
lease is lost while serving). See :mod:`gateway.app.instance`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["PACKAGED_CONFIG", "configure", "default_config_path", "load_default_config",
           "return_freed_memory", "run", "setup_logging"]

log = logging.getLogger("gateway.app.cli_run")


PACKAGED_CONFIG = Path(__file__).resolve().with_name("default_gateway.yaml")
SETTLE_AFTER = 1.0   # s after start-up: GC freeze and memory handed back, once the first logons are done


def default_config_path() -> Path:
    """``./config/gateway.yaml`` if present, else the checkout's, else the installed copy."""
    local = Path.cwd() / "config" / "gateway.yaml"
    if local.is_file():
        return local
    checkout = Path(__file__).resolve().parents[2] / "config" / "gateway.yaml"
    if checkout.is_file() and (checkout.parents[1] / "pyproject.toml").is_file():
        return checkout
    return PACKAGED_CONFIG


def load_default_config(path: Path | None = None) -> Any:
    """Load ``path`` (default :func:`default_config_path`); the installed copy resolves its
    relative paths against ``./config`` of the current directory."""
    from gateway.config.loader import load_config, load_config_text

    path = path or default_config_path()
    if path.resolve() != PACKAGED_CONFIG:
        return load_config(path)
    base = Path.cwd() / "config"
    return load_config_text(PACKAGED_CONFIG.read_text(encoding="utf-8"), source=str(PACKAGED_CONFIG),
                            base_dir=base, path=base / "gateway.yaml")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="gateway YAML (default: config/gateway.yaml)")
    parser.add_argument("--zenith", default=None, metavar="URL",
                        help="Zenith WebSocket URL overriding the config ('embedded': in-process simulator)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging level (default INFO)")
    parser.add_argument("--log-format", default=None, choices=["text", "json"],
                        help="gateway log format (default: gateway.logs.format, else text); json: one "
                             "object per line")
    parser.add_argument("--instance", default=None, metavar="NAME",
                        help="serve only the sessions of this instance (instances: in the config; needs "
                             "gateway.store: postgresql://...), guarded by its lease")
    parser.add_argument("--standby", action="store_true",
                        help="with --instance: wait for the instance's lease to lapse, then take over")


def setup_logging(level: str) -> None:
    """UTC timestamps with milliseconds, as every log in the project."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s",
                                  datefmt="%Y-%m-%d %H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def banner(gateway: object) -> str:
    """A few lines saying where the gateway listens, which sessions, which Zenith."""
    from gateway.app.runtime import Gateway
    from gateway.fix.engine import acceptor_reach, acceptor_warning

    assert isinstance(gateway, Gateway)
    cfg = gateway.config
    gw = cfg.gateway
    lines = [f"plxtra-fix gateway ready: {acceptor_reach(cfg)}"]
    if warning := acceptor_warning(cfg):
        lines.append(f"  WARNING: {warning}")
    for s in cfg.sessions:
        where = (f"connects to {s.host}:{s.port}" if s.role.value == "initiator" else "accepts")
        version = s.begin_string + (f"/{s.default_appl_ver_id}" if s.default_appl_ver_id else "")
        lines.append(f"  session {s.name}: {version} {s.sender_comp_id}<->{s.target_comp_id} ({where})")
    if gw.tls_listen_port is not None:
        lines.append(f"  FIX over TLS on port {gw.tls_listen_port} (sessions with transport: tls)")
    if cfg.admin.enabled:
        lines.append(f"  admin API: http://{cfg.admin.listen_host}:{cfg.admin.listen_port} (bearer token; "
                     "plxtra-fix admin --config FILE sessions)")
    zenith = gateway.zenith_url + (" (embedded simulator)" if gateway.embedded else "")
    lines.append(f"  Zenith: {zenith}")
    if gateway.lease is not None and gateway.lease.keeper is not None:
        held = gateway.lease.keeper.lease
        lines.append(f"  instance {held.name}: lease epoch {held.epoch} held as {held.owner} "
                     f"(ttl {held.ttl:g}s; exit 3 if it is lost)")
    lines.append(f"  FIX logs: {gw.log_dir}   store: {gw.store_path}")
    lines.append("  Ctrl-C or SIGTERM to stop (Logout is sent on every session)")
    return "\n".join(lines)


def return_freed_memory() -> None:
    """Give the memory freed during start-up back to the system (glibc only; elsewhere a no-op).

    QuickFIX parses each data dictionary once per connector, copies it into every session and
    frees the parsed original: for FIX50SP2.xml some 50 MB of small blocks that glibc keeps in
    its heap, counted in the process's RSS for ever, unless asked to hand them back."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim   # the process's own C library
    except (OSError, AttributeError):   # not glibc (musl has no malloc_trim)
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)


def run(args: argparse.Namespace) -> int:
    # No cyclic GC until start-up is over (settle): imports, the config and the dictionaries
    # create objects that live as long as the process, which young collections would only scan
    # and promote (~5% of start-up CPU); the collection and freeze in settle() see them once.
    gc.disable()
    try:
        return _run(args)
    finally:
        gc.enable()   # a run ended before settle (an error, a stop right away)


def _run(args: argparse.Namespace) -> int:
    from gateway.fix.quickfix_import import install

    install()   # before anything imports quickfix: its field classes are made on first use (start-up time)
    stamps = os.environ.get("PLXTRA_STAMPS")
    if stamps:   # bench only (bench/order_roundtrip.py --stamps): before the gateway's objects exist
        from gateway.ops.metrics_stages import install_stamps

        install_stamps(stamps)
    from gateway.app.runtime import Gateway
    from gateway.config.errors import ConfigError
    from gateway.config.loader import load_config
    from gateway.errors import GatewayError

    setup_logging(args.log_level)
    try:
        cfg = load_config(args.config) if args.config else load_default_config()
    except ConfigError as exc:
        print(f"plxtra-fix run: {exc}", file=sys.stderr)
        return 2
    lease = None
    instance = getattr(args, "instance", None)
    if getattr(args, "standby", False) and instance is None:
        print("plxtra-fix run: --standby needs --instance NAME", file=sys.stderr)
        return 2
    if instance is not None:
        from gateway.app.instance import InstanceError, InstanceLease, restrict_to_instance

        try:
            cfg = restrict_to_instance(cfg, instance)
        except InstanceError as exc:
            print(f"plxtra-fix run: {exc}", file=sys.stderr)
            return 2
        lease = InstanceLease(cfg, instance, standby=args.standby)
    if args.zenith:
        cfg = dataclasses.replace(cfg, zenith=dataclasses.replace(cfg.zenith, url=args.zenith))
    from gateway.ops.logformat import install_logging

    # Now that the config is known: its format, and its secrets masked in every line.
    secrets = [cfg.zenith.token, *(s.credentials.password or "" for s in cfg.sessions),
               *(secret for _, secret in cfg.admin.tokens)]
    install_logging(args.log_level, getattr(args, "log_format", None) or cfg.gateway.logs.format, secrets)

    def settle() -> None:
        from gateway.vocab.dictionary import release_compiled

        release_compiled()   # a dictionary compiled at this start is on disk now
        gc.enable()
        # Everything built at start-up (modules, dictionaries, config) lives as long as the
        # process: take it out of the cyclic GC so full collections stay short on the order path.
        # No gc.collect() first: it stalled the loop ~25 ms (while partners trade) to find ~700 dead
        # start-up objects (classes and functions, well under 1 MB), cheaper kept than found.
        gc.freeze()
        # Each order allocates thousands of short-lived containers: at the default threshold (700)
        # young collections ran every order or two and promoted the in-flight orders' objects, so
        # full collections kept scanning them (8.5% of the loop's CPU at max rate, py-spy). Most
        # of those objects are freed by reference counting well before 20,000 allocations.
        gc.set_threshold(20_000, 50, 50)
        # malloc_trim walks the whole heap (40-50 ms here); ctypes drops the GIL for the call, so
        # on a thread of its own it no longer stalls the loop, which keeps answering partners.
        threading.Thread(target=return_freed_memory, name="malloc-trim", daemon=True).start()

    def ready(gateway: Gateway) -> None:
        print(banner(gateway), flush=True)
        # Partners waiting for the port log on now: answer them first, tidy up just after.
        asyncio.get_running_loop().call_later(SETTLE_AFTER, settle)

    async def main() -> bool:
        # The lease before anything else, a standby's wait ending on SIGINT/SIGTERM.
        if lease is not None and getattr(args, "standby", False):
            gc.enable()   # a standby may wait for hours: collect meanwhile
        if lease is not None and not await lease.acquire_interruptibly():
            return False
        await Gateway(cfg, lease=lease).run(handle_signals=True, ready=ready)
        return True

    try:
        if not asyncio.run(main()):
            return 0
    except GatewayError as exc:
        print(f"plxtra-fix run: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"plxtra-fix run: {exc}", file=sys.stderr)
        return 1
    print("plxtra-fix gateway stopped", flush=True)
    return 0
