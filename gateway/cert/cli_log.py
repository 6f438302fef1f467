"""``plxtra-fix certify-log LOG --suite session``: step verdicts from a recorded session log alone.

Prints one line per step: PASS / FAIL with the reason, or LIVE for a step the log cannot prove
(its stimulus is not in the log, or it needs Plxtra to react live). Exit 0 when nothing failed,
1 when a step failed, 2 on a usage error (unreadable log, unknown suite, no Logon to tell sides).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from gateway.cert.logverdict import judge_log
from gateway.cert.suite import load_suite
from gateway.harness.codec import FixMessage
from gateway.harness.errors import HarnessError
from gateway.harness.readers import LogProblem, read_log

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", metavar="LOG",
                        help="the session's message log (QuickFIX, SOH, | dumps, gzip)")
    parser.add_argument("--suite", default="session", help="suite whose steps to judge (default session)")
    parser.add_argument("--partner-comp-id",
                        help="the partner's CompID (default: the sender of the first Logon, the initiator)")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        suite = load_suite(args.suite)
    except HarnessError as exc:
        print(f"certify-log: {exc}", file=sys.stderr)
        return 2
    problems: list[LogProblem] = []
    records = list(read_log(args.log, problems=problems))
    unreadable = [p for p in problems if "cannot" in p.reason or "No such" in p.reason]
    if unreadable or not records:
        why = unreadable[0].reason if unreadable else "no FIX messages found"
        print(f"certify-log: {args.log}: {why}", file=sys.stderr)
        return 2
    partner = args.partner_comp_id or next((r.sender for r in records if r.message.msg_type == "A"), None)
    if partner is None:
        print("certify-log: no Logon in the log: give --partner-comp-id", file=sys.stderr)
        return 2
    events: list[tuple[datetime | None, bool, FixMessage]] = [(r.time, r.sender == partner, r.message)
                                                              for r in records]
    verdicts = judge_log(suite, events)
    if args.json:
        print(json.dumps({"suite": suite.name, "sha256": suite.sha256, "partner": partner,
                          "steps": [{"id": v.step_id, "title": v.title, "status": v.status,
                                     "reason": v.reason} for v in verdicts]}, indent=2))
    else:
        marks = {"passed": "PASS", "failed": "FAIL", "needs-live": "LIVE"}
        for v in verdicts:
            print(f"{marks[v.status]} {v.step_id}: {v.title}: {v.reason}")
        counts = {s: sum(1 for v in verdicts if v.status == s) for s in marks}
        print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['needs-live']} need a live "
              f"session ({len(records)} messages, partner {partner})")
    return 1 if any(v.status == "failed" for v in verdicts) else 0
