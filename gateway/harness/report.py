"""Reports for replay, certification and ``.def`` runs: terminal summary, JUnit XML, self-contained HTML.

All three read only :class:`~gateway.harness.results.SuiteResult`. The HTML file has no external
assets (inline CSS, no scripts needed) so it can be attached to a CI run or mailed to a partner.
"""

from __future__ import annotations

import functools
import html
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from gateway.harness.results import CaseResult, MessagePair, SuiteResult

__all__ = ["Progress", "render_html", "render_junit", "render_terminal", "write_reports"]


class Progress:
    """A one-line progress bar on a tty (nothing otherwise): ``update(done, total, label)``."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._shown = False

    def update(self, done: int, total: int, label: str = "") -> None:
        if not self.enabled or total <= 0:
            return
        width = max(10, min(40, shutil.get_terminal_size((80, 20)).columns - 40))
        filled = int(width * done / total)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {label[:30]:<30}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


def _fmt_pair_line(pair: MessagePair) -> list[str]:
    lines = []
    for d in pair.diffs:
        exp = "absent" if d.expected is None else d.expected
        got = "absent" if d.received is None else d.received
        note = f" ({d.note})" if d.note else ""
        lines.append(f"      tag {d.tag}: expected {exp}, received {got}{note}")
    return lines


def render_terminal(suite: SuiteResult, *, verbose: bool = False) -> str:
    """Plain-text summary: the engine tested, one line per case, failure details under failing cases,
    a total line."""
    out = [f"engine under test: {suite.engine}"] if suite.engine else []
    for case in suite.cases:
        mark = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}[case.status]
        out.append(f"{mark:<5} {case.name}  ({case.duration:.2f}s){'  ' + case.file if case.file else ''}")
        if not case.passed:
            for failure in case.failures[:20]:
                out.append(f"    {failure}")
            if len(case.failures) > 20:
                out.append(f"    ... {len(case.failures) - 20} more")
            for pair in case.pairs:
                if not pair.ok and pair.diffs and len(case.failures) <= 1:
                    out.extend(_fmt_pair_line(pair))
        if verbose:
            out.extend(f"    | {line}" for line in case.log)
    passed = sum(1 for c in suite.cases if c.passed)
    out.append(f"{suite.name}: {passed} passed, {suite.failures} failed, {suite.errors} errors "
               f"in {suite.duration:.2f}s")
    return "\n".join(out)


def render_junit(suites: SuiteResult | Sequence[SuiteResult]) -> str:
    """JUnit XML (the common Jenkins/GitLab dialect): one <testsuite> per suite."""
    suites = [suites] if isinstance(suites, SuiteResult) else list(suites)
    root = ET.Element("testsuites", {
        "tests": str(sum(len(s.cases) for s in suites)),
        "failures": str(sum(s.failures for s in suites)),
        "errors": str(sum(s.errors for s in suites)),
        "time": f"{sum(s.duration for s in suites):.3f}",
    })
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for s in suites:
        node = ET.SubElement(root, "testsuite", {
            "name": s.name, "tests": str(len(s.cases)), "failures": str(s.failures),
            "errors": str(s.errors), "skipped": "0", "time": f"{s.duration:.3f}", "timestamp": stamp})
        if s.engine:
            props = ET.SubElement(node, "properties")
            ET.SubElement(props, "property", {"name": "engine", "value": _clean(s.engine)})
        for case in s.cases:
            attrs = {"classname": f"{s.name}.{case.suite}", "name": case.name, "time": f"{case.duration:.3f}"}
            if case.file:
                attrs["file"] = case.file
            tc = ET.SubElement(node, "testcase", attrs)
            if case.error:
                err = ET.SubElement(tc, "error", {"message": _clean(case.error)[:500]})
                err.text = _clean("\n".join(case.failures))
            elif not case.passed:
                fail = ET.SubElement(tc, "failure", {"message": _clean(case.failures[0])[:500]
                                                     if case.failures else "failed"})
                fail.text = _clean("\n".join(case.failures))
            if case.log:
                out = ET.SubElement(tc, "system-out")
                out.text = _clean("\n".join(case.log))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _clean(text: str) -> str:
    """XML 1.0 forbids control characters; FIX text is full of SOH."""
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 0x20 else "|" if ch == "\x01" else "?" for ch in text)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em}
.summary span{display:inline-block;margin-right:1.2em;font-weight:600}
.pass{color:#17652d}.fail{color:#b00020}.error{color:#8a4b00}
details{border:1px solid #ddd;border-radius:6px;margin:.5em 0;padding:.3em .8em}
summary{cursor:pointer;font-weight:600}
table.pair{border-collapse:collapse;width:100%;margin:.6em 0;font:12px ui-monospace,Menlo,Consolas,monospace}
table.pair td,table.pair th{border:1px solid #e3e3e3;padding:2px 6px;vertical-align:top;text-align:left}
table.pair th{background:#f4f4f4}
tr.diff td{background:#ffe9ec} td.tag{color:#555;width:14em} span.name{color:#999}
pre{white-space:pre-wrap;font:12px ui-monospace,Menlo,Consolas,monospace;background:#fafafa;padding:.5em}
ul.fail li{color:#b00020}
"""


@functools.lru_cache(maxsize=4096)
def _tag_name(tag: int) -> str:
    """FIX field name for the HTML tables (FIX.5.0SP2 then FIX.4.4 dictionaries; '' if unknown)."""
    from gateway.harness.dictionary import dictionary_for
    from gateway.harness.errors import HarnessError

    for begin, appl in (("FIXT.1.1", "9"), ("FIX.4.4", None), ("FIX.4.2", None)):
        try:
            name = dictionary_for(begin, None, appl).field_name(tag)
        except HarnessError:
            return ""
        if name:
            return name
    return ""


def _tag_cell(tag: int | str) -> str:
    name = _tag_name(int(tag)) if str(tag).isdigit() else ""
    title = f" <span class=name>{html.escape(name)}</span>" if name else ""
    return f"<td class=tag>{html.escape(str(tag))}{title}</td>"


def _pair_table(pair: MessagePair) -> str:
    diff_tags = {d.tag for d in pair.diffs}
    rows = []
    exp_fields = list(pair.expected or [])
    got_fields = list(pair.received or [])
    # Align by tag occurrence so the same tag sits on the same row.
    tags: list[tuple[int, int]] = []
    count_e: dict[int, int] = {}
    for tag, _ in exp_fields:
        count_e[tag] = count_e.get(tag, 0) + 1
        tags.append((tag, count_e[tag]))
    count_g: dict[int, int] = {}
    for tag, _ in got_fields:
        count_g[tag] = count_g.get(tag, 0) + 1
        if (tag, count_g[tag]) not in tags:
            tags.append((tag, count_g[tag]))

    def nth(fields: list[tuple[int, str]], tag: int, n: int) -> str | None:
        k = 0
        for t, v in fields:
            if t == tag:
                k += 1
                if k == n:
                    return v
        return None

    diff_by_tag = {d.tag: d for d in pair.diffs}
    for tag, n in tags:
        e, g = nth(exp_fields, tag, n), nth(got_fields, tag, n)
        if e is None and pair.expected is None and n == 1 and str(tag) in diff_by_tag:
            e = diff_by_tag[str(tag)].expected     # a matcher's description, e.g. one of ['0']
        cls = ' class="diff"' if str(tag) in diff_tags else ""
        rows.append(f"<tr{cls}>{_tag_cell(tag)}<td>{html.escape(e or '')}</td>"
                    f"<td>{html.escape(g or '')}</td></tr>")
    # Matcher diffs (selectors like 270[269=1], or a tag absent from both sides) get their own rows.
    shown = {str(t) for t, _ in tags}
    for d in (d for d in pair.diffs if d.tag not in shown):
        exp, got = html.escape(d.expected or "absent"), html.escape(d.received or "absent")
        rows.append(f'<tr class="diff">{_tag_cell(d.tag)}<td>{exp}</td><td>{got}</td></tr>')
    left = "recorded / expected"
    head = f"<tr><th>tag</th><th>{left}</th><th>received</th></tr>"
    expected_text = ""
    if pair.expected_text:
        expected_text = f"<pre>{html.escape(pair.expected_text)}</pre>"
    status = "pass" if pair.ok else "fail"
    return (f'<div class="{status}">{html.escape(pair.label)}</div>{expected_text}'
            f'<table class="pair">{head}{"".join(rows)}</table>')


def _case_html(case: CaseResult) -> str:
    cls = {"passed": "pass", "failed": "fail", "error": "error"}[case.status]
    parts = [f'<details{" open" if not case.passed else ""}><summary class="{cls}">'
             f"{case.status.upper()} {html.escape(case.name)} ({case.duration:.2f}s)</summary>"]
    if case.file:
        parts.append(f"<div>{html.escape(case.file)}</div>")
    if case.failures:
        parts.append('<ul class="fail">' + "".join(f"<li>{html.escape(f)}</li>" for f in case.failures[:200])
                     + "</ul>")
    for pair in case.pairs:
        if not pair.ok or len(case.pairs) <= 50:
            parts.append(_pair_table(pair))
    if case.log:
        parts.append("<pre>" + html.escape("\n".join(case.log[-500:])) + "</pre>")
    parts.append("</details>")
    return "".join(parts)


def render_html(suites: SuiteResult | Sequence[SuiteResult], title: str = "plxtra-fix report") -> str:
    """One self-contained HTML page: summary, then each case with side-by-side message tables."""
    suites = [suites] if isinstance(suites, SuiteResult) else list(suites)
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<div>generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC</div>"]
    for s in suites:
        passed = sum(1 for c in s.cases if c.passed)
        body.append(f"<h2>{html.escape(s.name)}</h2><div class=summary>"
                    f'<span class="pass">{passed} passed</span><span class="fail">{s.failures} failed</span>'
                    f'<span class="error">{s.errors} errors</span><span>{s.duration:.2f}s</span></div>')
        if s.engine:
            body.append(f"<div class=engine>engine under test: <code>{html.escape(s.engine)}</code></div>")
        body.extend(_case_html(c) for c in s.cases)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_reports(suites: SuiteResult | Sequence[SuiteResult], *, junit: str | Path | None = None,
                  html_path: str | Path | None = None, title: str = "plxtra-fix report") -> None:
    if junit:
        Path(junit).write_text(render_junit(suites), encoding="utf-8")
    if html_path:
        Path(html_path).write_text(render_html(suites, title), encoding="utf-8")
