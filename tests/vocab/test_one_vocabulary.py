"""One FIX vocabulary (issue 13, item 4): the gateway's parts build a BusinessMessageReject, format
a UTCTimestamp and parse a Zenith number in one place each, not in copies that drift apart.

Read from the source (ast), so a new copy fails here however it is called. Copies that live in
files being rewritten by other work are listed by name below; each entry must still exist (the
list cannot go stale), and the list is meant to shrink to nothing.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
# The runtime of the gateway. The simulator (its own program, ARCHITECTURE §2) and the harness's
# log analysis (which reads 35=j, never builds one) keep their own code on purpose.
RUNTIME = ("app", "bridge", "config", "fix", "ops", "store", "vocab", "zenith")



@functools.cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def modules(parts: tuple[str, ...] = RUNTIME) -> Iterator[tuple[str, ast.Module]]:
    for part in parts:
        for path in sorted((GATEWAY / part).rglob("*.py")):
            yield path.relative_to(GATEWAY).as_posix(), _parsed(path)


def _is_j(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value == "j"
    return isinstance(node, ast.Attribute) and node.attr == "BUSINESS_MESSAGE_REJECT"


def j_builders() -> set[str]:
    found: set[str] = set()
    for name, tree in modules():
        if name == "vocab/rejects.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "business_reject" in node.name:
                found.add(name)
            elif isinstance(node, ast.Call):
                callee = ast.unparse(node.func)
                if callee.startswith("OutboundMessage") and len(node.args) > 1 and _is_j(node.args[1]):
                    found.add(name)
    return found


def test_business_message_reject_is_built_in_vocab_only() -> None:
    assert j_builders() == set()


def test_utc_timestamps_are_formatted_in_vocab_only() -> None:
    found = set()
    for name, tree in modules((*RUNTIME, "harness", "cert")):
        if name == "vocab/times.py":
            continue
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and "%Y%m%d-%H:%M:%S" in text:
                found.add(name)
    assert found == set()


def test_one_to_decimal_and_it_is_the_zenith_values_one() -> None:
    defined = {name for name, tree in modules((*RUNTIME, "harness", "cert")) for node in ast.walk(tree)
               if isinstance(node, ast.FunctionDef) and node.name == "to_decimal"}
    assert defined == {"zenith/values.py"}


def test_market_data_tag_names_live_in_the_vocabulary() -> None:
    assert not (GATEWAY / "bridge" / "marketdata" / "tags.py").exists()
    imports = {name for name, tree in modules() for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("marketdata.tags")}
    assert imports == set()
