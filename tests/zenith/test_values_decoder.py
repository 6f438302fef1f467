"""``values.loads`` (msgspec first, the stdlib on refusal) reads every document as the stdlib does.

The rule under test: whatever msgspec accepts, it decodes to exactly what
``json.JSONDecoder(parse_float=Decimal)`` makes (same types all the way down, Decimals with the
same digits and exponent, same key order); whatever it refuses, ``loads`` gives the stdlib's
result or raises the stdlib's error. Checked on named edge cases, on documents from a seeded
generator (hypothesis is not a dependency of the project), on every JSON text the test suite
holds, and on every frame of a real simulator session.
"""

from __future__ import annotations

import ast
import asyncio
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.zenith import SubscriptionData
from gateway.zenith.protocol import ZenithProtocol
from gateway.zenith.records import OrderDetails
from gateway.zenith.trading import TradingApi
from gateway.zenith.values import _fast_decode, _stdlib_loads, loads, to_decimal
from tests.zenith.sim_session import simulator_session

TESTS = Path(__file__).resolve().parents[1]


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type at every level; Decimals by sign, digits and exponent."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is Decimal:
        return a.as_tuple() == b.as_tuple()
    if type(a) is float:   # NaN/Infinity literals: only through the stdlib
        return repr(a) == repr(b)
    return bool(a == b)


def outcome(decode: Any, text: Any) -> tuple[str, Any]:
    try:
        return "ok", decode(text)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


def check(text: str) -> bool:
    """The rule for one document; returns whether msgspec accepted it."""
    reference = outcome(_stdlib_loads, text)
    fast = outcome(_fast_decode, text)
    if fast[0] == "ok":
        assert reference[0] == "ok", (text, reference, fast)
        assert same(fast[1], reference[1]), (text, reference, fast)
    got = outcome(loads, text)
    assert got[0] == reference[0], (text, reference, got)
    if got[0] == "ok":
        assert same(got[1], reference[1]), (text, reference, got)
    else:
        assert got[1] == reference[1], (text, reference, got)
    return fast[0] == "ok"


# -- named cases: each difference between the two decoders a Zenith frame could show --------------


@pytest.mark.parametrize(
    "text",
    [
        '{"LimitPrice":9.95,"Quantity":100,"EstimatedValue":995.0}',
        "1E+2", "1e2", "1E-7", "-0", "-0.0", "0.000", "1e400", "-1E-400", "1.0000000000000000000000001",
        "12345678901234567890123", "-9223372036854775809", "18446744073709551616",
        '{"A":1,"A":2}', ' \t\r\n{"A":[1, 2 ,3]}\n ', '"\\ud83d\\ude00"', '"\\u00e9\\/\\b"', '"é€😀"',
    ],
)
def test_msgspec_reads_what_the_stdlib_reads(text: str) -> None:
    assert check(text)


@pytest.mark.parametrize(
    "text",
    [
        "NaN", "[Infinity]", '{"Price":-Infinity}',          # stdlib extensions (§3.1 has none)
        '"\\ud800"', '{"Code":"\\udc00x"}',                   # escaped lone surrogates
        "1" * 5000,                                          # past the int digit limit
        '{"A":1} x', '{"A":1}{"B":2}', '{"A":1}\x00', "", "  ", "\ufeff{}",
        '"a\nb"', "01", "1.", "[1,]", '{"A":1,}', '"\\x"',
    ],
)
def test_what_msgspec_refuses_the_stdlib_decides(text: str) -> None:
    assert not check(text)


def test_nan_literal_comes_through_and_is_no_quantity() -> None:
    data = loads('{"Quantity":NaN,"Price":Infinity}')
    assert repr(data) == "{'Quantity': nan, 'Price': inf}"
    with pytest.raises(ValueError, match="not a finite number"):
        to_decimal(data["Quantity"])


def test_lone_surrogates_come_through_as_the_stdlib_keeps_them() -> None:
    assert loads('{"Code":"\\ud800"}') == {"Code": "\ud800"}
    assert loads('"\udc80"') == "\udc80"   # a str already holding one (msgspec cannot encode it)


def test_errors_are_the_stdlib_json_errors() -> None:
    # The callers (protocol.receive, the client's frame handler) catch ValueError; the message is
    # the stdlib's, which names line and column.
    with pytest.raises(json.JSONDecodeError, match="Extra data: line 1 column 9"):
        loads('{"A":1} x')
    with pytest.raises(json.JSONDecodeError, match="Expecting value"):
        loads("")


def test_deep_nesting_is_a_recursion_error_as_in_the_stdlib() -> None:
    with pytest.raises(RecursionError):
        loads("[" * 100_000 + "]" * 100_000)


def test_a_bad_frame_still_fails_receive_with_value_error() -> None:
    core = ZenithProtocol()
    with pytest.raises(ValueError):
        core.receive('{"Controller":"Trading",')
    with pytest.raises(ValueError, match="not a JSON object"):
        core.receive("[1E+2]")


# -- generated documents ---------------------------------------------------------------------------

_KEYS = ["Controller", "Topic", "TransactionID", "Data", "O", "Order", "ID", "Account", "Details",
         "LimitPrice", "Quantity", "Side", "Status", "UpdatedDate", "Errors", "é", "", "\\u0041", "a\\\"b"]
_ESCAPES = ['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0041", "\\u00e9", "\\u20ac",
            "\\ud83d\\ude00", "\\uD834\\uDD1E", "\\u0000", "\\u001f"]
_RARE = ["NaN", "Infinity", "-Infinity", '"\\ud800"', '"\\udfff"', '"\\ud800\\u0041"']


def _number(rng: random.Random) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return str(rng.randrange(-1000, 1000))
    if kind == 1:
        return str(rng.randrange(-(10**40), 10**40))   # past 64 bits both ways
    if kind == 2:
        return rng.choice(["-0", "0", "-0.0", "0.0", "0e0", "-0E-0", "0.000"])
    if kind == 3:
        fraction = rng.randrange(0, 10 ** rng.randrange(1, 12))
        return f"{rng.randrange(0, 10**6)}.{fraction:0{rng.randrange(1, 12)}d}"
    if kind == 4:
        mantissa = rng.choice(["1", "9.95", "-2.5", "123456789012345678901234567890", "0.1"])
        return f"{mantissa}{rng.choice('eE')}{rng.choice(['', '+', '-'])}{rng.randrange(0, 500)}"
    if kind == 5:
        return "-" + "9" * rng.randrange(15, 25) + "." + "9" * rng.randrange(1, 30)
    if kind == 6:
        return repr(rng.uniform(-1e6, 1e6))
    if kind == 7:
        return str(rng.choice([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64]))
    return f"{rng.randrange(1, 100)}E{rng.randrange(-30, 30)}"


def _string(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randrange(0, 6)):
        kind = rng.randrange(5)
        if kind == 0:
            parts.append(rng.choice(["XS01", "Bid", "2026-12-06T13:53:56.846+00:00", "XS:0001", " ", "x y"]))
        elif kind == 1:
            parts.append(rng.choice(_ESCAPES))
        elif kind == 2:
            parts.append(chr(rng.choice([0xE9, 0x20AC, 0x1F600, 0x7F, 0xA0, 0xFFFD, 0x10FFFF])))
        elif kind == 3:
            parts.append("".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(rng.randrange(1, 8)))
                         .replace("\\", "\\\\").replace('"', '\\"'))
        else:
            parts.append(rng.choice(_KEYS))
    return '"' + "".join(parts) + '"'


def _ws(rng: random.Random) -> str:
    return "" if rng.random() < 0.8 else "".join(rng.choice(" \t\r\n") for _ in range(rng.randrange(1, 4)))


def _value(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if roll < 0.02:
        return rng.choice(_RARE)
    if depth > 0 and roll < 0.25:
        keys = [rng.choice(_KEYS) for _ in range(rng.randrange(0, 6))]   # duplicates now and then
        items = [f'{_ws(rng)}"{k}"{_ws(rng)}:{_ws(rng)}{_value(rng, depth - 1)}{_ws(rng)}' for k in keys]
        return "{" + ",".join(items) + _ws(rng) + "}"
    if depth > 0 and roll < 0.4:
        return "[" + ",".join(_ws(rng) + _value(rng, depth - 1) + _ws(rng)
                              for _ in range(rng.randrange(0, 5))) + _ws(rng) + "]"
    if roll < 0.65:
        return _number(rng)
    if roll < 0.9:
        return _string(rng)
    return rng.choice(["true", "false", "null"])


def _mutate(rng: random.Random, text: str) -> str:
    kind = rng.randrange(6)
    if kind == 0 and text:
        return text[: rng.randrange(len(text))]
    if kind == 1:
        return text + rng.choice([" x", "{}", "\x00", ",", "]", " 1"])
    if kind == 2 and text:
        at = rng.randrange(len(text))
        return text[:at] + rng.choice(["\n", "\x01", "\\", '"', "\ud800", "+", "00", ".", "e"]) + text[at:]
    if kind == 3:
        return "\ufeff" + text
    return text


def test_generated_documents_decode_as_the_stdlib_decodes() -> None:
    rng = random.Random(20261206)
    accepted = refused = 0
    for i in range(4000):
        text = _ws(rng) + _value(rng, rng.randrange(0, 5)) + _ws(rng)
        if i % 4 == 3:
            text = _mutate(rng, text)
        if check(text):
            accepted += 1
        else:
            refused += 1
    # Both paths really ran: most documents by msgspec, the rest by the stdlib.
    assert accepted > 2500 and refused > 300, (accepted, refused)


# -- every JSON text the test suite holds --------------------------------------------------------------


def _json_literals() -> list[str]:
    """String constants that look like JSON documents, and the JSON text of every dict or list
    literal (the payloads tests build in Python and send), in every test module."""
    found: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.strip()
                if len(text) > 2 and text[0] in "{[" and text[-1] in "}]" and '"' in text:
                    found.append(node.value)
            elif (isinstance(node, ast.Dict) and node.keys) or (isinstance(node, ast.List) and node.elts):
                try:
                    found.append(json.dumps(ast.literal_eval(node), separators=(",", ":")))
                except (ValueError, TypeError, SyntaxError, RecursionError):
                    continue
    return found


def test_every_json_text_in_the_tests_decodes_as_the_stdlib_decodes() -> None:
    texts = _json_literals()
    assert len(texts) > 1000, len(texts)
    accepted = sum(check(text) for text in texts)
    assert accepted > len(texts) * 9 // 10, (accepted, len(texts))


# -- a real session's frames -------------------------------------------------------------------------


def test_every_frame_of_a_simulator_session_decodes_as_the_stdlib_decodes(tmp_path: Path) -> None:
    frames: list[str] = []

    async def main() -> None:
        async with simulator_session(tmp_path, activity=True, seed=11, frames=frames) as client:
            seen: list[Any] = []

            def on_data(event: Any) -> None:
                if type(event) is SubscriptionData:
                    seen.append(event.data)

            for controller, topic in (("Trading", "Orders!XS:0001"), ("Trading", "Transactions!XS:0001"),
                                      ("Market", "Trades!XS02.XSX"), ("Market", "Levels!XS02.XSX"),
                                      ("Market", "Depth!XS02.XSX"), ("Market", "Security!XS02.XSX")):
                client.subscribe(controller, topic, on_data)
            trading = TradingApi(client)

            def limit(side: str, price: str, qty: int) -> OrderDetails:
                return OrderDetails(exchange="XSX", code="XS02", side=side, type="Limit",
                                    limit_price=Decimal(price), quantity=Decimal(qty), validity="UntilDay")

            placed = await trading.place_order("XS:0001", limit("Bid", "9.95", 100), request_id="d-1")
            assert placed.ok and placed.order is not None
            await trading.place_order("XS:0002", limit("Ask", "9.95", 40), request_id="d-2")
            await trading.amend_order("XS:0001", placed.order.id, limit("Bid", "9.96", 200), request_id="d-3")
            await trading.cancel_order("XS:0001", placed.order.id, request_id="d-4")
            await trading.query_orders("XS:0001")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5.0
            while len(frames) < 60 and loop.time() < deadline:
                await asyncio.sleep(0.05)

    asyncio.run(asyncio.wait_for(main(), 20.0))
    assert len(frames) >= 30, len(frames)
    assert all(check(text) for text in frames)
    assert any("." in text and '"LimitPrice"' in text for text in frames)
