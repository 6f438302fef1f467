"""FIX codec: encode computes 9/10, the streaming parser cuts, checks and reports every failure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.harness import errors
from gateway.harness.codec import DATA_TAGS, FixMessage, FixParser, ParseError, checksum, encode

SENDING = "20240102-10:00:00.123"


def order(i: int = 1, **extra: str) -> bytes:
    pairs: list[tuple[int, object]] = [
        (35, "D"),
        (49, "CLIENT1"),
        (56, "PLXTRA"),
        (34, i),
        (52, SENDING),
        (11, f"ord-{i}"),
        (55, "XS01"),
        (54, "1"),
        (38, 100),
        (40, "2"),
        (44, Decimal("10.50")),
    ]
    pairs += [(int(k[1:]), v) for k, v in extra.items()]
    return encode("FIX.4.4", pairs)


def parse_all(data: bytes, step: int = 3, **flags: bool) -> tuple[list[FixMessage], list[ParseError]]:
    """Feed ``data`` ``step`` bytes at a time; collect messages and errors (bounded loop)."""
    parser = FixParser(**flags)
    messages: list[FixMessage] = []
    problems: list[ParseError] = []

    def drain() -> None:
        for _ in range(10_000):
            try:
                m = parser.next()
            except ParseError as exc:
                problems.append(exc)
                continue
            if m is None:
                return
            messages.append(m)
        raise AssertionError("parser did not settle")

    for i in range(0, len(data), step):
        parser.feed(data[i : i + step])
        drain()
    parser.feed_eof()
    drain()
    return messages, problems


# -- encode ---------------------------------------------------------------------------------------


def test_encode_computes_body_length_and_checksum_by_the_standard() -> None:
    raw = encode("FIX.4.2", [(35, "0"), (49, "A"), (56, "B"), (34, 1), (52, SENDING)])
    body = b"35=0\x0149=A\x0156=B\x0134=1\x0152=" + SENDING.encode() + b"\x01"
    head = b"8=FIX.4.2\x019=%d\x01" % len(body)
    expected_cs = sum(head + body) % 256
    assert raw == head + body + b"10=%03d\x01" % expected_cs


def test_encode_ignores_given_9_and_10_and_checks_8() -> None:
    plain = encode("FIX.4.4", [(35, "0"), (49, "A")])
    assert encode("FIX.4.4", [(8, "FIX.4.4"), (9, "999"), (35, "0"), (49, "A"), (10, "000")]) == plain
    with pytest.raises(errors.EncodeError) as info:
        encode("FIX.4.4", [(8, "FIX.4.2"), (35, "0")])
    assert info.value.tag == 8


@pytest.mark.parametrize(
    ("pairs", "tag"),
    [
        ([(49, "A"), (35, "0")], 49),  # MsgType not first
        ([(35, "0"), (58, "")], 58),  # empty value
        ([(35, "0"), (58, "a\x01b")], 58),  # SOH outside a data field
        ([(35, "A"), (95, "3"), (96, b"a\x01bc")], 96),  # data length wrong
        ([(35, "0"), (58, "snow ☃")], 58),  # not Latin-1 text
        ([(35, "0"), (58, 1.5)], 58),  # float: use Decimal
    ],
)
def test_encode_refuses_what_cannot_be_a_valid_message(pairs: list[tuple[int, object]], tag: int) -> None:
    with pytest.raises(errors.EncodeError) as info:
        encode("FIX.4.4", pairs)
    assert info.value.tag == tag


def test_encode_check_false_builds_broken_messages_on_purpose() -> None:
    raw = encode("FIX.4.4", [(49, "A"), (35, "0"), (58, "")], check=False)
    assert raw.startswith(b"8=FIX.4.4\x019=14\x0149=A\x0135=0\x0158=\x0110=")


def test_encode_value_types() -> None:
    m, _ = FixParser().cut(encode("FIX.4.4", [(35, "D"), (44, Decimal("1E+2")), (43, True), (38, 7)]), 0)
    assert isinstance(m, FixMessage)
    assert (m.get(44), m.get(43), m.get(38)) == ("100", "Y", "7")


def test_checksum_matches_plain_sum_across_chunk_sizes() -> None:
    for n in (0, 1, 255, 256, 257, 1000, 70_000):
        data = bytes((i * 7 + 3) % 256 for i in range(n))
        assert checksum(data) == sum(data) % 256, n


# -- parsing happy path ---------------------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 100_000])
def test_parser_fed_a_few_bytes_at_a_time(step: int) -> None:
    data = b"".join(order(i) for i in range(1, 6))
    messages, problems = parse_all(data, step=step)
    assert problems == []
    assert [m.get(11) for m in messages] == [f"ord-{i}" for i in range(1, 6)]
    m = messages[0]
    assert (m.begin_string, m.msg_type, m.checksum_ok, m.body_length_ok, m.skipped) == (
        "FIX.4.4",
        "D",
        True,
        True,
        0,
    )
    assert m.raw == order(1)
    assert m.fields[:3] == [(8, "FIX.4.4"), (9, str(m.body_length)), (35, "D")]
    assert m.fields[-1] == (10, f"{m.checksum:03d}")
    assert m.body_fields[0] == (35, "D")
    assert m.comp_ids() == ("CLIENT1", "PLXTRA")
    assert m.msg_seq_num == 1
    assert m.sending_time == SENDING


def test_reencoding_body_fields_gives_the_same_bytes() -> None:
    m, _ = FixParser().cut(order(9), 0)
    assert isinstance(m, FixMessage)
    assert encode(m.begin_string, m.body_fields) == m.raw
    assert encode(m.begin_string, m.fields) == m.raw  # 8/9/10 accepted and recomputed


def test_repeating_groups_first_wins_and_get_all() -> None:
    raw = encode(
        "FIX.4.4", [(35, "V"), (262, "r1"), (267, 2), (269, "0"), (269, "1"), (146, 1), (55, "XS01")]
    )
    m, _ = FixParser().cut(raw, 0)
    assert isinstance(m, FixMessage)
    assert m.get(269) == "0"
    assert m.get_all(269) == ["0", "1"]
    assert 55 in m and 999 not in m
    assert m.get(999, "x") == "x"


def test_fixt_and_whitespace_between_messages_is_not_garbage() -> None:
    a = encode("FIXT.1.1", [(35, "A"), (49, "A"), (56, "B"), (1137, "9")])
    messages, problems = parse_all(a + b"\r\n\n  " + a, step=5, allow_garbage=False)
    assert problems == []
    assert [m.begin_string for m in messages] == ["FIXT.1.1", "FIXT.1.1"]
    assert messages[1].skipped == 0


# -- raw data fields --------------------------------------------------------------------------------


def test_raw_data_field_may_hold_soh_and_fake_fields() -> None:
    payload = b"x\x0149=EVIL\x0110=000\x01\x00\xff"
    raw = encode(
        "FIX.4.4",
        [
            (35, "A"),
            (34, 1),
            (95, len(payload)),
            (96, payload),
            (49, "REAL"),
            (56, "B"),
            (98, "0"),
            (108, 30),
        ],
    )
    messages, problems = parse_all(raw + order(2), step=4)
    assert problems == []
    m = messages[0]
    assert m.get_bytes(96) == payload
    assert m.get(49) == "REAL"
    assert m.comp_ids() == ("REAL", "B")  # the fake 49 inside RawData is not taken
    assert [t for t, _ in m.fields] == [8, 9, 35, 34, 95, 96, 49, 56, 98, 108, 10]
    assert messages[1].get(11) == "ord-2"


def test_secure_data_in_header_and_xml_data() -> None:
    xml = b"<a>\x01</a>"
    raw = encode(
        "FIX.4.4", [(35, "0"), (90, len(xml)), (91, xml), (49, "S"), (56, "T"), (212, 3), (213, b"a\x01b")]
    )
    m, _ = FixParser().cut(raw, 0)
    assert isinstance(m, FixMessage)
    assert (m.sender_comp_id, m.target_comp_id) == ("S", "T")
    assert m.get_bytes(91) == xml and m.get(213) == "a\x01b"
    assert {91, 213} <= DATA_TAGS


def test_data_field_shorter_than_its_length_is_malformed() -> None:
    raw = encode("FIX.4.4", [(35, "A"), (95, "9"), (96, b"ab\x01cd"), (98, "0")], check=False)
    m, _ = FixParser().cut(raw, 0)
    assert isinstance(m, FixMessage)
    with pytest.raises(errors.MalformedFieldError):
        _ = m.fields


def test_malformed_fields_are_reported_on_access() -> None:
    for body in (b"35=0\x01abc\x01", b"35=0\x01x5=1\x01", b"35=0\x01 5=1\x01", b"35=0\x0105=1\x01"):
        raw = b"8=FIX.4.4\x019=%d\x01%s" % (len(body), body)
        raw += b"10=%03d\x01" % (sum(raw) % 256)
        m, _ = FixParser().cut(raw, 0)
        assert isinstance(m, FixMessage) and m.checksum_ok
        with pytest.raises(errors.MalformedFieldError):
            _ = m.fields


# -- every failure class ----------------------------------------------------------------------------


def corrupt_checksum(raw: bytes) -> bytes:
    cs = int(raw[-4:-1])
    return raw[:-4] + b"%03d\x01" % ((cs + 1) % 256)


def test_bad_checksum_is_a_flag_by_default() -> None:
    messages, problems = parse_all(corrupt_checksum(order(1)) + order(2))
    assert problems == []
    assert [m.checksum_ok for m in messages] == [False, True]


def test_bad_checksum_strict_raises_with_the_message_and_goes_on() -> None:
    messages, problems = parse_all(corrupt_checksum(order(1)) + order(2), allow_bad_checksum=False)
    assert [type(p) for p in problems] == [errors.BadChecksumError]
    assert problems[0].message is not None and problems[0].message.get(11) == "ord-1"
    assert [m.get(11) for m in messages] == ["ord-2"]


def with_body_length(raw: bytes, value: bytes) -> bytes:
    s1 = raw.index(b"\x01") + 1
    s2 = raw.index(b"\x01", s1)
    return raw[:s1] + b"9=" + value + raw[s2:]


@pytest.mark.parametrize("delta", [-5, +3, +400])
def test_wrong_body_length_is_a_flag_by_default(delta: int) -> None:
    raw = order(1)
    m0, _ = FixParser().cut(raw, 0)
    assert isinstance(m0, FixMessage)
    bad = with_body_length(raw, b"%d" % (m0.body_length + delta))
    messages, problems = parse_all(bad + order(2) + order(3), step=11)
    assert problems == []
    assert [(m.get(11), m.body_length_ok) for m in messages] == [
        ("ord-1", False),
        ("ord-2", True),
        ("ord-3", True),
    ]


def test_wrong_body_length_strict_raises() -> None:
    bad = with_body_length(order(1), b"20")
    messages, problems = parse_all(bad + order(2), allow_bad_body_length=False)
    assert [type(p) for p in problems] == [errors.BodyLengthMismatchError]
    assert [m.get(11) for m in messages] == ["ord-2"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"8=FIX.4.4" + b"x" * 60 + b"\x01", errors.BadBeginStringError),
        (b"8=FIX.4.4\x0135=D\x0110=000\x01", errors.BadBodyLengthError),
        (b"8=FIX.4.4\x019=abc\x0135=D\x0110=000\x01", errors.BadBodyLengthError),
        (b"8=FIX.4.4\x019=12345678901234\x01", errors.BadBodyLengthError),
        (b"8=FIX.4.4\x019=5\x0149=A\x0110=068\x01", errors.MissingMsgTypeError),
        (b"8=FIX.4.4\x019=5\x0135=D\x0110=0x8\x01", errors.MissingChecksumError),
        (b"8=FIX.4.4\x019=99999999\x0135=D\x01", errors.MessageTooLargeError),
        (b"8=FIX.4.4\x019=20\x0135=D\x0111=abc", errors.TruncatedMessageError),
    ],
)
def test_each_failure_has_its_class_and_parsing_goes_on(data: bytes, error: type[ParseError]) -> None:
    messages, problems = parse_all(data + order(7), step=5)
    assert [type(p) for p in problems] == [error]
    assert isinstance(problems[0], errors.HarnessError)
    assert problems[0].offset == 0 and problems[0].snippet.startswith(b"8=FIX.4.4")
    assert [m.get(11) for m in messages] == ["ord-7"]


def test_truncated_message_followed_by_a_whole_one() -> None:
    whole = order(1)
    messages, problems = parse_all(whole[:-30] + order(2) + order(3))
    assert [type(p) for p in problems] == [errors.TruncatedMessageError]
    assert [m.get(11) for m in messages] == ["ord-2", "ord-3"]


def test_truncated_at_end_of_input() -> None:
    messages, problems = parse_all(order(1) + order(2)[:-3])
    assert [m.get(11) for m in messages] == ["ord-1"]
    assert [type(p) for p in problems] == [errors.TruncatedMessageError]
    assert problems[0].offset == len(order(1))


def test_garbage_between_messages_counted_or_refused() -> None:
    data = b"\x00junk 8=FIY " + order(1) + b"more junk" + order(2) + b"tail"
    messages, problems = parse_all(data, step=4)
    assert problems == []
    assert [m.skipped for m in messages] == [12, 9]
    messages, problems = parse_all(data, step=4, allow_garbage=False)
    assert [m.get(11) for m in messages] == ["ord-1", "ord-2"]
    assert all(isinstance(p, errors.GarbageError) for p in problems) and len(problems) >= 3


def test_message_too_large_is_bounded_while_waiting() -> None:
    parser = FixParser(max_message_size=64)
    parser.feed(b"8=FIX.4.4\x019=60\x0135=D\x01" + b"1=x\x01" * 40)
    with pytest.raises(errors.MessageTooLargeError):
        parser.next()
    assert parser.next() is None


def test_parser_config_and_eof_misuse() -> None:
    with pytest.raises(ValueError):
        FixParser(max_message_size=1)
    parser = FixParser()
    parser.feed_eof()
    with pytest.raises(RuntimeError):
        parser.feed(b"x")


def test_buffer_is_compacted_while_streaming() -> None:
    parser = FixParser()
    one = order(1)
    for _ in range(2000):
        parser.feed(one)
        assert parser.next() is not None
    assert parser.buffered == 0
    assert len(parser._buf) < 4 * len(one)


def test_messages_generator_and_repr() -> None:
    parser = FixParser()
    parser.feed(order(1) + corrupt_checksum(order(2)))
    got = list(parser.messages())
    assert len(got) == 2
    assert "bad-checksum" in repr(got[1]) and "35=D" in repr(got[0])
    assert got[0] == FixParser().cut(order(1), 0)[0]
    assert got[0].to_text().startswith("8=FIX.4.4|9=")


def test_mutated_streams_never_break_the_parser() -> None:
    """Seeded random damage (flipped, dropped, duplicated bytes): only ParseErrors, never a crash,
    and every message that comes out either splits or says MalformedFieldError."""
    import random

    rng = random.Random(20240102)
    clean = b"".join(order(i) for i in range(1, 40))
    for _ in range(200):
        data = bytearray(clean)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data))
            action = rng.random()
            if action < 0.4:
                data[pos] = rng.choice(b"\x01=8910|A ")
            elif action < 0.7:
                del data[pos : pos + rng.randint(1, 30)]
            else:
                data[pos:pos] = data[pos : pos + rng.randint(1, 30)]
        messages, problems = parse_all(bytes(data), step=rng.choice([1, 7, 64, 4096]))
        assert len(messages) + len(problems) >= 1
        for m in messages:
            try:
                assert m.fields[0][0] == 8
            except errors.MalformedFieldError:
                pass
