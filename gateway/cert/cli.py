"""``plxtra-fix certify-partner``: Plxtra's side of a partner's certification.

Listens for the partner's initiator on ``--port``, runs the suites, prints one line per step and
exits 0 when every selected step passed, 1 when any failed, 2 on a usage error (bad option, bad
suite or questionnaire, port in use). ``--verify-record F`` checks a record's signature instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from gateway.cert.errors import CertError
from gateway.cert.record import build_record, load_record_key, sign_record, verify_record, write_record
from gateway.cert.report import render_record_html
from gateway.cert.results import to_suite_result
from gateway.cert.runner import CertOptions, CertRun
from gateway.cert.suite import Suite, load_suite
from gateway.harness.errors import HarnessError
from gateway.harness.report import write_reports

__all__ = ["configure", "run"]

_BEGIN = {"FIX.4.2": "FIX.4.2", "FIX.4.4": "FIX.4.4", "FIXT.1.1": "FIXT.1.1", "FIX.5.0SP2": "FIXT.1.1"}


def _hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", action="append", default=[], metavar="NAME_OR_FILE",
                        help="suite to run (shipped: session, orders, market-data; or a YAML file); "
                             "repeatable")
    parser.add_argument("--port", type=int, default=9880, help="port to accept the partner on (0: any)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--connect", type=_hostport, metavar="HOST:PORT",
                        help="initiate to the partner's acceptor instead of listening")
    parser.add_argument("--heartbeat", type=int, default=30, metavar="SECONDS",
                        help="HeartBtInt Plxtra proposes when it initiates (default 30)")
    parser.add_argument("--begin-string", default="FIX.4.4", choices=sorted(_BEGIN),
                        help="the session's FIX version (FIX.5.0SP2 = FIXT.1.1 with DefaultApplVerID 9)")
    parser.add_argument("--partner-comp-id", help="the partner's SenderCompID (required to run)")
    parser.add_argument("--our-comp-id", default="PLXTRA", help="Plxtra's CompID (default PLXTRA)")
    parser.add_argument("--timeout", type=float, default=15.0, metavar="SECONDS",
                        help="how long an automatic step waits for the partner (default 15)")
    parser.add_argument("--prompt-timeout", type=float, default=300.0, metavar="SECONDS",
                        help="how long a prompted step waits for a person (default 300)")
    parser.add_argument("--connect-timeout", type=float, default=120.0, metavar="SECONDS",
                        help="how long to wait for the partner to connect (default 120)")
    parser.add_argument("--run-timeout", type=float, default=3600.0, metavar="SECONDS")
    parser.add_argument("--questionnaire", metavar="FILE",
                        help="capability questionnaire (YAML); without it, --web asks it in the console")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--html", metavar="FILE", help="write a printable HTML report")
    parser.add_argument("--record", metavar="FILE", help="write the signed JSON certification record")
    parser.add_argument("--log", metavar="FILE",
                        help="message log (default: next to --record as RECORD.messages.log)")
    parser.add_argument("--config", metavar="FILE",
                        help="certification config with record_key: ${ENV_VAR} (HMAC key for records)")
    parser.add_argument("--json-view", type=_hostport, metavar="HOST:PORT",
                        help="serve the running session as JSON over HTTP (GET /status)")
    parser.add_argument("--web", type=_hostport, metavar="HOST:PORT",
                        help="serve the guided web console (and the JSON view) on HOST:PORT")
    parser.add_argument("--linger", type=float, default=0.0, metavar="SECONDS",
                        help="keep the console/JSON view up this long after the run (to download the record)")
    parser.add_argument("--verify-record", metavar="FILE", help="check a record's signature and log hash")


def _verify(args: argparse.Namespace) -> int:
    try:
        key = load_record_key(args.config)
        result = verify_record(Path(args.verify_record), key)
    except CertError as exc:
        print(f"certify-partner: {exc}", file=sys.stderr)
        return 2
    if result.ok:
        print(f"record OK: signature valid, verdict {result.verdict}")
        return 0
    for problem in result.problems:
        print(f"record INVALID: {problem}")
    return 1


def _print_step(kind: str, data: dict[str, Any]) -> None:
    if kind == "step" and data["status"] in ("passed", "failed"):
        mark = "PASS" if data["status"] == "passed" else "FAIL"
        case = f" [{data['case']}]" if data.get("case") else ""
        line = f"{mark} {data['key']}{case}: {data['title']} ({data['duration']:.1f}s)"
        if data["status"] == "failed":
            line += f"\n     {data['reason']}"
        print(line, flush=True)
    elif kind == "step" and data["status"] == "running" and not data["automatic"]:
        print(f"  -> {data['key']}: {data['prompt']}", flush=True)


async def _run(args: argparse.Namespace, suites: list[Suite], options: CertOptions,
               questionnaire: dict[str, Any] | None, capabilities: frozenset[str] | None,
               key: bytes | None) -> int:
    backend = None
    if any(not s.automatic for s in suites):
        from gateway.cert.proxy import GatewayBackend

        backend = GatewayBackend(options.begin_string, options.partner_comp_id)
    # A guided run asks the questionnaire in the console when no file answered it.
    ask = args.web is not None and questionnaire is None
    run = CertRun(suites, options, capabilities=capabilities, backend=backend, questionnaire=questionnaire,
                  await_questionnaire=ask)
    run.listeners.append(_print_step)
    try:
        await run.start()
    except OSError as exc:
        print(f"certify-partner: cannot listen on {options.host}:{options.port}: {exc}", file=sys.stderr)
        return 2
    views = []
    for address, what in ((args.json_view, "JSON view"), (args.web, "web console")):
        if address is None:
            continue
        from gateway.cert.httpview import StatusServer

        view = StatusServer(run, *address, key=key)
        try:
            await view.start()
        except OSError as exc:
            await run.stop()
            print(f"certify-partner: cannot serve the {what} on {address[0]}:{address[1]}: {exc}",
                  file=sys.stderr)
            return 2
        views.append(view)
        path = "/status" if what == "JSON view" else "/"
        print(f"{what}: http://{view.host}:{view.port}{path}", flush=True)
    if ask:
        print("certify-partner: waiting for the capability questionnaire (the console's form, or "
              "POST /questionnaire with the answers as JSON)", flush=True)
    if options.connect is None:
        print(f"certify-partner: waiting for {options.partner_comp_id} ({options.begin_string}) on "
              f"{options.host}:{run.port}, TargetCompID {options.our_comp_id}", flush=True)
    else:
        print(f"certify-partner: connecting to {options.partner_comp_id} ({options.begin_string}) at "
              f"{options.connect[0]}:{options.connect[1]} as {options.our_comp_id}", flush=True)
    try:
        await run.run()
    finally:
        await run.stop()
        if views and args.linger > 0:
            await asyncio.sleep(args.linger)
        for view in views:
            await view.stop()
    states = run.states
    passed = sum(1 for s in states if s.status == "passed")
    failed = [s for s in states if s.status not in ("passed", "skipped")]
    duration = (run.ended - run.started).total_seconds() if run.ended and run.started else 0.0
    print(f"{'PASSED' if run.passed else 'FAILED'}: {passed} passed, {len(failed)} failed, "
          f"{sum(1 for s in states if s.status == 'skipped')} skipped in {duration:.1f}s")
    result = to_suite_result("+".join(s.name for s in suites), states, duration)
    write_reports(result, junit=args.junit)
    record = sign_record(build_record(run, log_path=options.log_path), key)
    if args.html:
        Path(args.html).write_text(render_record_html(record), encoding="utf-8")
    if args.record:
        write_record(Path(args.record), record)
    return 0 if run.passed else 1


def run(args: argparse.Namespace) -> int:
    if args.verify_record:
        return _verify(args)
    if not args.partner_comp_id:
        print("certify-partner: --partner-comp-id is required", file=sys.stderr)
        return 2
    try:
        suites = [load_suite(name) for name in (args.suite or ["session"])]
        questionnaire, capabilities = None, None
        if args.questionnaire:
            from gateway.cert.questionnaire import load_questionnaire

            questionnaire, capabilities = load_questionnaire(args.questionnaire)
        key = load_record_key(args.config)
    except HarnessError as exc:
        print(f"certify-partner: {exc}", file=sys.stderr)
        return 2
    begin = _BEGIN[args.begin_string]
    unsupported = [s.name for s in suites if begin not in s.versions]
    if unsupported:
        print(f"certify-partner: suites {unsupported} do not cover {args.begin_string}", file=sys.stderr)
        return 2
    log_path = Path(args.log) if args.log else (Path(args.record + ".messages.log") if args.record else None)
    options = CertOptions(begin, args.partner_comp_id, args.our_comp_id, args.host, args.port,
                          timeout=args.timeout, prompt_timeout=args.prompt_timeout,
                          connect_timeout=args.connect_timeout, run_timeout=args.run_timeout,
                          log_path=log_path, connect=args.connect, heartbeat=args.heartbeat)
    return asyncio.run(_run(args, suites, options, questionnaire, capabilities, key))
