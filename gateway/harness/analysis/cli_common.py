"""What the log-analysis commands share: input options, opening inputs, problems, the HTML file."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from gateway.harness.analysis.inputs import Inputs
from gateway.harness.readers import FORMATS

__all__ = ["add_follow_arguments", "add_input_arguments", "open_inputs", "report_problems"]

_MAX_PROBLEMS_SHOWN = 10


def add_input_arguments(parser: argparse.ArgumentParser, *, logs: bool = True) -> None:
    if logs:
        parser.add_argument(
            "logs",
            nargs="*",
            metavar="LOG",
            help="FIX logs (any format decode reads, gzip too) and pcap/pcapng captures; "
            "'-' or nothing: stdin",
        )
    parser.add_argument(
        "--format",
        choices=["auto", *FORMATS],
        default="auto",
        help="log format (default: detect per file; captures are recognised by content)",
    )
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    parser.add_argument(
        "--dictionary-dir",
        metavar="DIR",
        default=None,
        help="QuickFIX spec XML directory for names (default: from quickfix)",
    )


def add_follow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--follow",
        action="store_true",
        help="read one log as it grows, printing changes as they happen (Ctrl-C ends)",
    )
    parser.add_argument(
        "--idle-exit",
        type=float,
        metavar="SECONDS",
        default=None,
        help="with --follow: stop once the log has not grown for SECONDS",
    )


def open_inputs(prog: str, paths: list[str], args: argparse.Namespace) -> Inputs | None:
    """Inputs for ``paths``, or None after printing why not (the caller exits 2)."""
    for path in paths:
        if path == "-":
            continue
        try:
            with open(path, "rb") as f:
                f.read(0)
        except OSError as exc:
            print(f"{prog}: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
            return None
    try:
        return Inputs(
            paths or ["-"],
            format=args.format,
            follow=bool(getattr(args, "follow", False)),
            idle_exit=getattr(args, "idle_exit", None),
        )
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def report_problems(prog: str, inputs: Inputs, out: TextIO) -> None:
    if not inputs.problem_count:
        return
    print(f"{prog}: {inputs.problem_count} problem(s) in the input:", file=out)
    for problem in inputs.problems[:_MAX_PROBLEMS_SHOWN]:
        print(f"  {problem}", file=out)
    if inputs.problem_count > _MAX_PROBLEMS_SHOWN:
        print(f"  ... and {inputs.problem_count - _MAX_PROBLEMS_SHOWN} more", file=out)


def write_html(path: str, html_text: str, prog: str) -> bool:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(html_text)
    except OSError as exc:
        print(f"{prog}: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    print(f"{prog}: HTML report written to {path}", file=sys.stderr)
    return True


def problem_lines(inputs: Inputs) -> list[str]:
    return [str(p) for p in inputs.problems[:100]]
