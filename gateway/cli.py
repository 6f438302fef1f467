"""The ``plxtra-fix`` console script: one sub-command per job.

Each part owns its own command module exposing ``configure(parser)`` and ``run(args) -> int``;
this module only routes, and imports a part only when its command is chosen so that
``plxtra-fix sim`` never loads the gateway runtime.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

# command name -> (module path, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("gateway.app.cli_run", "run the FIX gateway (embedded simulator unless --zenith is given)"),
    "demo": ("gateway.app.cli_demo",
             "gateway + simulator + a scripted FIX client, printing a readable trace"),
    "sim": ("gateway.sim.cli", "run the Plxtra Zenith simulator alone"),
    "check-config": ("gateway.config.cli", "validate a gateway YAML file and print its QuickFIX settings"),
    "decode": ("gateway.harness.cli_decode", "print FIX messages from logs with tag names and enum meanings"),
    "replay": ("gateway.harness.cli_replay", "replay one side of a recorded FIX log against a FIX engine"),
    "certify": ("gateway.harness.cli_certify", "run certification scenarios against a FIX engine"),
    "certify-partner": ("gateway.cert.cli", "certify a partner's FIX engine (Plxtra's side of the session)"),
    "certify-log": ("gateway.cert.cli_log", "verdict on certification steps from a recorded session log"),
    "admin": ("gateway.ops.cli_admin", "operate a running gateway through its admin API"),
    "orders": ("gateway.harness.analysis.cli_orders",
               "order lifecycles from FIX logs, inconsistencies flagged"),
    "sessions": ("gateway.harness.analysis.cli_sessions",
                 "session-layer health from FIX logs: gaps, resends, heartbeats, logons"),
    "diff": ("gateway.harness.analysis.cli_diff", "compare two recordings of the same flow, order by order"),
    "latency": ("gateway.harness.analysis.cli_latency", "request-to-answer latency per message pair"),
}


def _build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, str | None]:
    parser = argparse.ArgumentParser(prog="plxtra-fix",
                                     description="Plxtra FIX gateway, simulator and harness.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_path, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_path)
            module.configure(command_parser)
            command_parser.set_defaults(_run=module.run)
    return parser, chosen


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, _ = _build_parser(args_list)
    args = parser.parse_args(args_list)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
