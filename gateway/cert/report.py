"""The printable HTML certificate: the same content as the JSON record (suites with their content
hashes, CompIDs, engine, questionnaire, UTC times, every step with its result, the message log's
SHA-256, the signature), self-contained, one page per run."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["render_record_html"]

_CSS = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } .passed { color: #2e8b3a; } .failed { color: #c0392b; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } code { font-size: 12px; word-break: break-all; }
@media print { body { margin: 0; } tr { break-inside: avoid; } }
"""


def _row(name: str, value: Any) -> str:
    return f"<tr><th>{html.escape(name)}</th><td>{value}</td></tr>"


def render_record_html(record: Mapping[str, Any]) -> str:
    e = html.escape
    verdict = str(record.get("verdict", "?"))
    suites = "<br>".join(f"{e(s['name'])} ({e(s['title'])}) <code>sha256 {e(s['sha256'])}</code>"
                         for s in record.get("suites", []))
    partner = record.get("partner", {})
    engine = partner.get("engine")
    log = record.get("message_log", {})
    signature = record.get("signature", {})
    head = "".join([
        _row("Verdict", f"<b class='{e(verdict)}'>{e(verdict.upper())}</b>"),
        _row("Suites", suites),
        _row("FIX version", e(str(record.get("begin_string")))),
        _row("Partner", e(str(partner.get("comp_id")))
             + (f" — engine {e(json.dumps(engine))}" if engine else "")),
        _row("Plxtra", e(str(record.get("plxtra", {}).get("comp_id")))),
        _row("Questionnaire", f"<code>{e(json.dumps(record.get('questionnaire') or {}))}</code>"),
        _row("Started / ended (UTC)", f"{e(str(record.get('started')))} / {e(str(record.get('ended')))}"),
        _row("Duration", f"{record.get('duration')} s"),
        _row("Message log", f"{e(str(log.get('file')))}: {log.get('messages')} messages, "
                            f"<code>sha256 {e(str(log.get('sha256')))}</code>"),
        _row("Signature",
             f"{e(str(signature.get('algorithm')))} <code>{e(str(signature.get('value')))}</code>"),
    ])
    rows = []
    for s in record.get("steps", []):
        status = str(s.get("status"))
        rows.append(f"<tr><td>{e(s['key'])}</td><td>{e(str(s.get('case') or ''))}</td>"
                    f"<td>{e(s['title'])}</td>"
                    f"<td class='{e(status)}'>{e(status)}</td><td>{e(str(s.get('reason') or ''))}</td>"
                    f"<td>{s.get('duration')}</td></tr>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Plxtra certification "
            f"{e(str(partner.get('comp_id')))}</title><style>{_CSS}</style></head><body>"
            f"<h1>Plxtra partner certification: {e(str(partner.get('comp_id')))}</h1>"
            f"<table>{head}</table><h2>Steps</h2><table><tr><th>step</th><th>FIX case</th><th>title</th>"
            f"<th>result</th><th>reason</th><th>seconds</th></tr>{''.join(rows)}</table></body></html>\n")
