"""``plxtra-fix check-config FILE``: validate a gateway YAML file and show what it makes.

Prints a summary of the gateway and each session, then the QuickFIX settings text of each
connector the gateway runs (acceptor, initiator: each holds only its own sessions). When QuickFIX
is installed it parses every text, checks each connector gets what it reads at start, and
constructs each connector once (memory store, no log, no socket), so a config that cannot run
cannot pass. Exit status: 0 valid, 2 invalid (each problem on stderr as
``file:line: key: reason``). Secrets (Zenith token, logon passwords) are never printed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gateway.config.dictionaries import DictionaryPaths, locate_dictionaries, required_files
from gateway.config.errors import ConfigError, DictionaryNotFound
from gateway.config.instances import describe_instances, describe_store
from gateway.config.loader import load_config
from gateway.config.model import GatewayConfig, Role, Schedule, SessionConfig
from gateway.config.quickfix_settings import (
    connector_session_settings,
    probe_connectors,
    render_connector_settings,
)

__all__ = ["configure", "describe", "run"]

DEFAULT_FILE = "config/gateway.yaml"
_PLACEHOLDER_DIR = Path("<quickfix-data-dictionaries-not-found>")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default=DEFAULT_FILE, metavar="FILE",
                        help=f"gateway YAML file (default: {DEFAULT_FILE})")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", "-q", action="store_true", help="print nothing when the file is valid")
    output.add_argument("--settings-only", action="store_true",
                        help="print only the QuickFIX settings text (to save it as a .cfg file; with "
                             "both roles, pick one with --connector)")
    parser.add_argument("--connector", choices=[r.value for r in Role], default=None,
                        help="show only this connector's settings (default: every connector)")


def run(args: argparse.Namespace) -> int:
    return check(args.file, quiet=args.quiet, settings_only=args.settings_only,
                 connector=Role(args.connector) if args.connector else None)


def check(file: str, *, quiet: bool = False, settings_only: bool = False, connector: Role | None = None,
          out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        config = load_config(file)
    except ConfigError as exc:
        print(str(exc), file=err)
        return 2
    try:
        dictionaries = locate_dictionaries(config.gateway.data_dictionary_dir, needed=required_files(config))
    except DictionaryNotFound as exc:
        if config.gateway.data_dictionary_dir is not None:
            print(f"{file}: {exc}", file=err)
            return 2
        # The file is valid; this machine lacks the engine. Say so, and still show the text.
        print(f"warning: {exc}", file=err)
        dictionaries = DictionaryPaths(_PLACEHOLDER_DIR)
    try:
        texts = render_connector_settings(config, dictionaries=dictionaries)
        parsed = _parse_with_quickfix(config, texts, probe=dictionaries.directory != _PLACEHOLDER_DIR)
    except ConfigError as exc:
        print(f"{file}: {exc}", file=err)
        return 2
    if connector is not None and connector not in texts:
        print(f"{file}: sessions: no {connector.value} session, so no {connector.value} connector", file=err)
        return 2
    shown = {role: text for role, text in texts.items() if connector in (None, role)}
    if quiet:
        return 0
    if settings_only:
        out.write("\n".join(shown.values()))
        return 0
    out.write(describe(config, file))
    for role, text in shown.items():
        title = f"QuickFIX settings: {role.value} connector"
        out.write(f"\n{title}\n{'-' * len(title)}\n")
        out.write(text)
        if parsed is not None:
            note = " (not constructed: these sessions run in this process)" if role in parsed.skipped else ""
            out.write(f"# QuickFIX {parsed.release} parsed these settings: "
                      f"{parsed.sessions[role]} session(s){note}\n")
    return 0


@dataclass(frozen=True, slots=True)
class _Parsed:
    release: str                     # QuickFIX version
    sessions: dict[Role, int]        # sessions QuickFIX read per connector
    skipped: tuple[Role, ...]        # connectors not constructed (see probe_connectors)


def _parse_with_quickfix(config: GatewayConfig, texts: dict[Role, str], *, probe: bool) -> _Parsed | None:
    """What QuickFIX itself made of every connector's text (parsed, verified and, with ``probe``,
    each connector constructed once); None without QuickFIX."""
    try:
        import quickfix  # noqa: F401 - only to learn whether the engine is installed
    except ImportError:
        return None
    settings = connector_session_settings(config, texts)
    # With placeholder dictionary paths a construction could only fail on the placeholder.
    skipped = probe_connectors(settings) if probe else []
    try:
        release = importlib.metadata.version("quickfix")
    except importlib.metadata.PackageNotFoundError:
        release = "?"
    return _Parsed(release, {role: int(s.size()) for role, s in settings.items()}, tuple(skipped))


def describe(config: GatewayConfig, file: str) -> str:
    """Human summary of a loaded configuration (no secrets)."""
    gw, zn = config.gateway, config.zenith
    lines = [f"{file}: valid, {len(config.sessions)} session(s)", "", "Gateway"]
    lines.append(f"  listen        {gw.listen_host}:{gw.listen_port}")
    zenith = zn.url
    if zn.url == "embedded":
        zenith = "embedded simulator" + (f" ({zn.sim_config})" if zn.sim_config else "")
    lines.append(f"  zenith        {zenith}, auth {zn.auth_method}, token set, "
                 f"timeout {zn.request_timeout:g}s")
    lines.append(f"  store         {describe_store(config)}")
    lines.append(f"  logs          {gw.log_dir}")
    store = f"file {gw.message_store_dir}" if gw.message_store == "file" else gw.message_store
    if gw.message_store == "postgresql" and gw.store is not None:
        store += f" (QuickFIX's PostgreSQLStore in {gw.store.redacted})"
    lines.append(f"  message store {store}")
    lines.append(f"  dictionaries  {gw.data_dictionary_dir or 'installed with quickfix'}")
    lines.append(f"  market data   conflation {'on' if gw.md_conflation else 'off'}, "
                 f"queue limit {gw.md_queue_limit}")
    lines += ["", "Sessions"]
    for s in config.sessions:
        lines += _describe_session(s)
    lines += describe_instances(config)
    return "\n".join(lines) + "\n"


def _describe_session(s: SessionConfig) -> list[str]:
    where = f"connects to {s.host}:{s.port}" if s.role is Role.INITIATOR else "accepts"
    version = f"{s.begin_string}/{s.default_appl_ver_id}" if s.default_appl_ver_id else s.begin_string
    out = [f"  {s.name}: {s.sender_comp_id} -> {s.target_comp_id} {version} ({s.role.value}, {where})"]
    out.append(f"      heartbeat {s.heartbeat_interval}s, {_describe_schedule(s.schedule)}, "
               f"ResetOnLogon {'Y' if s.reset_on_logon else 'N'}, "
               f"141=Y {'accepted' if s.accept_reset_seq_num_flag else 'refused'}")
    if s.credentials.username:
        out.append(f"      logon username {s.credentials.username}"
                   + (", password set" if s.credentials.password else ""))
    aliases = {plxtra: alias for alias, plxtra in s.account_aliases.items()}
    accounts = []
    for account in s.accounts:
        notes = [f"alias {aliases[account]}"] if account in aliases else []
        if account == s.default_account:
            notes.append("default")
        accounts.append(account + (f" ({', '.join(notes)})" if notes else ""))
    out.append(f"      accounts {', '.join(accounts) or 'none'}")
    symbols = ", ".join(s.symbols) if s.symbols else "all"
    suffix = "Symbol.Market accepted" if s.symbology.allow_suffix else "no suffix"
    out.append(f"      markets {', '.join(s.markets)}; symbols {symbols}; default market "
               f"{s.symbology.default_market or 'none (207 required)'}, {suffix}")
    limits = s.limits
    parts = []
    if limits.max_order_qty is not None:
        parts.append(f"max qty {limits.max_order_qty}")
    if limits.max_notional is not None:
        parts.append(f"max notional {limits.max_notional}")
    if limits.messages_per_second is not None:
        parts.append(f"{limits.messages_per_second} msg/s then {limits.throttle_action.value}")
    out.append(f"      limits {', '.join(parts) or 'none'}; trading {'on' if s.trading else 'off'}, "
               f"market data {'on' if s.market_data else 'off'}, cancel on disconnect "
               f"{'on' if s.cancel_on_disconnect else 'off'}")
    return out


def _describe_schedule(schedule: Schedule) -> str:
    if schedule.always_on:
        return "24/7"
    days = f" {schedule.start_day}-{schedule.end_day}" if schedule.start_day else " daily"
    return f"{schedule.start_time}-{schedule.end_time} {schedule.time_zone}{days}"
