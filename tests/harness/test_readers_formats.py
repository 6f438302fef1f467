"""Log readers on every format, with session grouping, directions and problems by file and line."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.harness.codec import encode
from gateway.harness.readers import (
    FORMATS,
    LogProblem,
    LogReader,
    LogRecord,
    detect_format,
    group_sessions,
    parse_log_time,
    read_log,
)
from gateway.vocab.records import SessionKey


def msg(
    seq: int, sender: str = "CLIENT1", target: str = "PLXTRA", msg_type: str = "D", **more: object
) -> bytes:
    pairs: list[tuple[int, object]] = [
        (35, msg_type),
        (34, seq),
        (49, sender),
        (52, "20240102-10:00:00.000"),
        (56, target),
    ]
    if msg_type == "D":
        pairs += [(11, f"ord-{seq}"), (55, "XS01"), (54, "1"), (38, 100), (40, "1")]
    pairs += [(int(k[1:]), v) for k, v in more.items()]
    return encode("FIX.4.4", pairs)


def bad_checksum(raw: bytes) -> bytes:
    return raw[:-4] + b"%03d\x01" % ((int(raw[-4:-1]) + 1) % 256)


def read(path: Path | str, **kw: object) -> tuple[list[LogRecord], LogReader]:
    reader = LogReader([path], **kw)  # type: ignore[arg-type]
    return list(reader), reader


def ids(records: list[LogRecord]) -> list[tuple[int, str | None]]:
    return [(r.line, r.message.get(34)) for r in records]


# -- QuickFIX C++ ---------------------------------------------------------------------------------


def test_quickfix_cpp_messages_log(tmp_path: Path) -> None:
    path = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log"
    lines = [
        b"20240102-10:00:00.123 : " + msg(1, msg_type="A", _98="0", _108="30"),
        b"20240102-10:00:00.124 : " + msg(1, "PLXTRA", "CLIENT1", "A", _98="0", _108="30"),
        b"20240102-10:00:01.000123 : " + msg(2),
        b"20240102-10:00:01.000123456 : " + msg(2, "PLXTRA", "CLIENT1", "8", _37="O1", _39="0"),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    records, reader = read(path)
    assert reader.formats[str(path)] == "quickfix"
    assert reader.problems == []
    assert ids(records) == [(1, "1"), (2, "1"), (3, "2"), (4, "2")]
    # the file is named after the owner's session: PLXTRA is us
    assert [r.direction for r in records] == ["in", "out", "in", "out"]
    assert {r.session for r in records} == {SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")}
    assert records[0].time == datetime(2024, 1, 2, 10, 0, 0, 123000, UTC)
    assert records[2].time == datetime(2024, 1, 2, 10, 0, 1, 123, UTC)
    assert records[3].time_text == "20240102-10:00:01.000123456"
    assert records[3].time == datetime(2024, 1, 2, 10, 0, 1, 123, UTC)  # ns truncated to µs
    assert (records[3].sender, records[3].target, records[3].msg_type) == ("PLXTRA", "CLIENT1", "8")
    stats = reader.sessions[SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")]
    assert stats.messages == 4 and stats.by_sender == {"CLIENT1": 2, "PLXTRA": 2}
    assert (stats.first_time, stats.last_time) == ("20240102-10:00:00.123", "20240102-10:00:01.000123456")


def test_quickfix_event_log_yields_nothing_and_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.event.current.log"
    path.write_text(
        "20240102-10:00:00.000 : Created session\n"
        "20240102-10:00:00.100 : Received logon\n"
        "20240102-10:00:00.100 : Responding to Logon request\n"
    )
    records, reader = read(path)
    assert records == [] and reader.problems == []


def test_quickfix_store_body_is_a_raw_stream_of_sent_messages(tmp_path: Path) -> None:
    path = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.body"
    path.write_bytes(b"".join(msg(i, "PLXTRA", "CLIENT1", "8") for i in range(1, 6)))
    records, reader = read(path)
    assert reader.formats[str(path)] == "raw"
    assert [r.message.get(34) for r in records] == ["1", "2", "3", "4", "5"]
    assert all(r.direction == "out" and r.line == 1 for r in records)


# -- QuickFIX/J -----------------------------------------------------------------------------------


def test_quickfixj_slf4j_log_directions_from_prefix(tmp_path: Path) -> None:
    path = tmp_path / "gateway.log"
    path.write_bytes(
        b"2024-01-02 10:00:00,001 INFO  [main] quickfix.SocketAcceptor - Started\n"
        b"2024-01-02 10:00:00,123 INFO  [QFJ Message Processor] quickfixj.msg.incoming - "
        b"FIX.4.4:PLXTRA->CLIENT1: " + msg(1) + b"\n"
        b"2024-01-02 10:00:00,456 INFO  [QFJ Message Processor] quickfixj.msg.outgoing - "
        b"FIX.4.4:PLXTRA->CLIENT1: " + msg(1, "PLXTRA", "CLIENT1", "8") + b"\n"
    )
    records, reader = read(path)
    assert reader.formats[str(path)] == "quickfixj"
    assert reader.problems == []
    assert [(r.line, r.direction) for r in records] == [(2, "in"), (3, "out")]
    assert records[0].time == datetime(2024, 1, 2, 10, 0, 0, 123000, UTC)
    assert records[0].session == SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")


def test_quickfixj_screen_log_and_cpp_screen_log(tmp_path: Path) -> None:
    qfj = tmp_path / "screen.log"
    qfj.write_bytes(b"<20240102-10:00:00, FIX.4.4:CLIENT1->PLXTRA, outgoing> (" + msg(1) + b")\n")
    records, reader = read(qfj)
    assert [(r.direction, r.time_text) for r in records] == [("out", "20240102-10:00:00")]
    assert reader.problems == []
    cpp = tmp_path / "cpp-screen.log"
    cpp.write_bytes(
        b"<20240102-10:00:00.000, FIX.4.4:CLIENT1->PLXTRA, incoming>\n  ("
        + msg(1, "PLXTRA", "CLIENT1", "8")
        + b")\n<20240102-10:00:01.000, FIX.4.4:CLIENT1->PLXTRA, event>\n  (Sent heartbeat)\n"
    )
    records, reader = read(cpp)
    assert [(r.line, r.direction, r.time_text) for r in records] == [(2, "in", "20240102-10:00:00.000")]
    assert reader.problems == []


# -- raw, pipe, caret, prefixes -----------------------------------------------------------------------


def test_raw_soh_stream_without_newlines_longer_than_a_read(tmp_path: Path) -> None:
    path = tmp_path / "capture.bin"
    messages = [msg(i, _58="x" * 500) for i in range(1, 400)]  # ~230 KB, no newline at all
    path.write_bytes(b"".join(messages))
    records, reader = read(path)
    assert reader.problems == []
    assert [r.message.raw for r in records] == messages
    assert all(r.direction is None and r.time_text is None for r in records)


def test_raw_stream_several_per_line(tmp_path: Path) -> None:
    path = tmp_path / "multi.txt"
    path.write_bytes(msg(1) + msg(2) + b"\n" + msg(3) + b"  " + msg(4) + b"\n")
    records, reader = read(path)
    assert ids(records) == [(1, "1"), (1, "2"), (2, "3"), (2, "4")]
    assert reader.problems == []


def test_pipe_dump_checked_against_soh_form(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    good = msg(1).replace(b"\x01", b"|")
    bad = bad_checksum(msg(2)).replace(b"\x01", b"|")
    path.write_bytes(b"first: " + good + b"\nsecond: " + bad + b"\n")
    records, reader = read(path)
    assert reader.formats[str(path)] == "pipe"
    assert [r.message.checksum_ok for r in records] == [True, False]
    assert records[0].message.raw == msg(1)
    assert [(p.line, p.kind) for p in reader.problems] == [(2, "checksum")]


def test_caret_a_dump(tmp_path: Path) -> None:
    path = tmp_path / "caret.txt"
    path.write_bytes(msg(1).replace(b"\x01", b"^A") + b"\n" + msg(2).replace(b"\x01", b"^A") + b"\n")
    records, reader = read(path)
    assert reader.formats[str(path)] == "caret"
    assert [r.message.raw for r in records] == [msg(1), msg(2)]
    assert reader.problems == []


def test_arbitrary_prefixes_keep_a_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(
        b"[worker-3] 2024-01-02T10:00:05.250Z fix-out >> " + msg(1) + b"\n"
        b"no timestamp here: " + msg(2) + b"\n"
        b"just a comment line\n"
    )
    records, reader = read(path)
    assert reader.formats[str(path)] == "prefixed"
    assert [r.time for r in records] == [datetime(2024, 1, 2, 10, 0, 5, 250000, UTC), None]
    assert reader.problems == []


def test_format_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "odd.log"
    path.write_bytes(b"20240102-10:00:00.000 : " + msg(1).replace(b"\x01", b"|") + b"\n")
    records, _ = read(path, format="pipe")
    assert records[0].time_text == "20240102-10:00:00.000"
    records, reader = read(path, format="quickfix")  # wrong on purpose: '|' is not SOH
    # still read (as pasted), and the log says why it needed leniency
    assert [r.message.get(11) for r in records] == ["ord-1"]
    assert any("'|', not SOH" in p.reason for p in reader.problems), reader.problems
    with pytest.raises(ValueError):
        LogReader([path], format="nonsense")


def test_detect_format_table() -> None:
    assert detect_format(b"20240102-10:00:00.000 : " + msg(1)) == FORMATS["quickfix"]
    assert detect_format(b"20240102-10:00:00.000: " + msg(1)) == FORMATS["quickfix"]  # QFJ FileLog
    assert detect_format(msg(1) + msg(2)) == FORMATS["raw"]
    assert detect_format(msg(1).replace(b"\x01", b"|")) == FORMATS["pipe"]
    assert detect_format(b"x " + msg(1).replace(b"\x01", b"^A")) == FORMATS["caret"]
    assert detect_format(b"hello\n") == FORMATS["raw"]
    assert detect_format(b"2024-01-02 10:00:00,1 quickfixj.msg.outgoing - " + msg(1)).name == "quickfixj"


# -- gzip and stdin -----------------------------------------------------------------------------------


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    path = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.log.1"
    body = b"".join(b"20240102-10:00:00.%03d : " % i + msg(i) + b"\n" for i in range(1, 50))
    path.write_bytes(gzip.compress(body))
    records, reader = read(path)
    assert len(records) == 49 and reader.problems == []
    assert records[-1].line == 49 and records[-1].direction == "in"


def test_truncated_gzip_reports_and_keeps_what_it_read(tmp_path: Path) -> None:
    path = tmp_path / "cut.log.gz"
    body = b"".join(b"20240102-10:00:00.000 : " + msg(i, _58="y" * 200) + b"\n" for i in range(1, 2000))
    data = gzip.compress(body)
    path.write_bytes(data[: len(data) // 2])
    records, reader = read(path)
    assert 0 < len(records) < 1999
    assert [r.message.get(34) for r in records] == [str(i) for i in range(1, len(records) + 1)]
    assert any(p.kind == "io" and "truncated" in p.reason for p in reader.problems)


def test_garbage_gzip_header(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b" + b"\x00" * 30)
    records, reader = read(path)
    assert records == [] and [p.kind for p in reader.problems] == ["io"]


def test_stdin_and_missing_file() -> None:
    stdin = io.BytesIO(gzip.compress(b"20240102-10:00:00.000 : " + msg(7) + b"\n"))
    reader = LogReader(["-", "/nonexistent/x.log"], stdin=stdin)
    records = list(reader)
    assert [(r.file, r.line, r.message.get(34)) for r in records] == [("<stdin>", 1, "7")]
    assert [(p.file, p.line, p.kind) for p in reader.problems] == [("/nonexistent/x.log", 0, "io")]


# -- problems ---------------------------------------------------------------------------------------


def test_corrupt_lines_are_reported_by_line_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log"
    cut_short = msg(2)[:-20]
    wrong_length = msg(4).replace(b"\x019=", b"\x019=1", 1)
    lines = [
        b"20240102-10:00:00.000 : " + msg(1),
        b"20240102-10:00:00.000 : " + cut_short,
        b"20240102-10:00:00.000 : " + bad_checksum(msg(3)),
        b"20240102-10:00:00.000 : " + wrong_length,
        b"20240102-10:00:00.000 : 35=D\x0149=X\x0110=000\x01",
        b"20240102-10:00:00.000 : 8=FIX.4.4\x019=abc\x0135=D\x0110=000\x01",
        b"\x00\xff\xfe binary junk",
        b"20240102-10:00:00.000 : " + msg(5),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    problems: list[LogProblem] = []
    records = list(read_log(path, problems=problems))
    # Every message that can be cut at a BeginString is kept, its problems reported on its line:
    # the cut-short one (2) and the one with a non-numeric BodyLength (6) are read as pasted.
    assert ids(records) == [(1, "1"), (2, "2"), (3, "3"), (4, "4"), (6, None), (8, "5")]
    assert [(p.line, p.kind) for p in problems] == [
        (2, "delimiter"),
        (2, "body-length"),
        (2, "trailer"),
        (3, "checksum"),
        (4, "body-length"),
        (4, "checksum"),  # the extra "1" in 9= changes the byte sum too
        (5, "garbage"),
        (6, "body-length"),
        (6, "checksum"),
    ]
    assert all(p.file == str(path) for p in problems)
    assert str(problems[2]).startswith(f"{path}:2: missing trailer")


def test_message_spanning_lines_in_a_data_field(tmp_path: Path) -> None:
    xml = b"<a>\n<b/>\n</a>"
    raw = encode("FIX.4.4", [(35, "n"), (49, "A"), (56, "B"), (34, 1), (212, len(xml)), (213, xml)])
    path = tmp_path / "xml.log"
    path.write_bytes(
        b"20240102-10:00:00.000 : " + raw + b"\n20240102-10:00:00.001 : " + msg(2, "A", "B") + b"\n"
    )
    records, reader = read(path)
    assert reader.problems == []
    assert [(r.line, r.msg_type) for r in records] == [(1, "n"), (4, "D")]
    assert records[0].message.get_bytes(213) == xml


def test_problem_list_is_bounded_but_counted(tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    path.write_bytes(b"".join(b"x : " + bad_checksum(msg(i)) + b"\n" for i in range(1, 51)))
    seen: list[LogProblem] = []
    reader = LogReader([path], max_problems=10, on_problem=seen.append)
    assert len(list(reader)) == 50
    assert (len(reader.problems), reader.problem_count, len(seen)) == (10, 50, 50)


# -- sessions ---------------------------------------------------------------------------------------


def test_sessions_grouped_across_files_and_versions(tmp_path: Path) -> None:
    a = tmp_path / "a.log"
    b = tmp_path / "b.log"
    fixt = encode("FIXT.1.1", [(35, "A"), (34, 1), (49, "CLIENT2"), (56, "PLXTRA"), (98, "0"), (1137, "9")])
    a.write_bytes(msg(1) + b"\n" + msg(1, "PLXTRA", "CLIENT1", "8") + b"\n" + fixt + b"\n")
    b.write_bytes(msg(2, "PLXTRA", "CLIENT1", "8") + b"\n" + msg(1, "CLIENT3", "PLXTRA") + b"\n")
    reader = LogReader([a, b])
    groups = group_sessions(reader)
    # without an owner in the log, a session is seen from the side that sent first
    assert list(groups) == [
        SessionKey("FIX.4.4", "CLIENT1", "PLXTRA"),
        SessionKey("FIXT.1.1", "CLIENT2", "PLXTRA"),
        SessionKey("FIX.4.4", "CLIENT3", "PLXTRA"),
    ]
    first = groups[SessionKey("FIX.4.4", "CLIENT1", "PLXTRA")]
    assert [(r.file, r.sender) for r in first] == [
        (str(a), "CLIENT1"),
        (str(a), "PLXTRA"),
        (str(b), "PLXTRA"),
    ]
    stats = reader.sessions[SessionKey("FIX.4.4", "CLIENT1", "PLXTRA")]
    assert stats.messages == 3 and stats.files == {str(a), str(b)}


def test_comp_ids_behind_a_length_field_take_the_careful_path(tmp_path: Path) -> None:
    secure = b"\x0149=FAKE\x01"
    raw = encode("FIX.4.4", [(35, "D"), (90, len(secure)), (91, secure), (49, "REAL"), (56, "T"), (34, 1)])
    path = tmp_path / "s.log"
    path.write_bytes(raw + b"\n")
    records, _ = read(path)
    assert (records[0].sender, records[0].target) == ("REAL", "T")


def test_parse_log_time_variants() -> None:
    assert parse_log_time("20240102-10:00:00") == datetime(2024, 1, 2, 10, 0, tzinfo=UTC)
    assert parse_log_time("2024-01-02 10:00:00,5") == datetime(2024, 1, 2, 10, 0, 0, 500000, UTC)
    assert parse_log_time("2024-01-02T10:00:00.123456789Z") == datetime(2024, 1, 2, 10, 0, 0, 123456, UTC)
    assert parse_log_time("20241302-10:00:00") is None
    assert parse_log_time(None) is None and parse_log_time("nope") is None


def test_reading_is_streaming(tmp_path: Path) -> None:
    path = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log"
    path.write_bytes(b"".join(b"20240102-10:00:00.000 : " + msg(i) + b"\n" for i in range(1, 3001)))
    reader = iter(LogReader([path]))
    first = next(reader)
    assert first.line == 1  # a generator: the first record comes before the file is read through
    assert sum(1 for _ in reader) == 2999


def test_mutated_logs_never_break_the_reader(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    clean = b"".join(b"20240102-10:00:00.000 : " + msg(i) + b"\n" for i in range(1, 60))
    for round_ in range(60):
        data = bytearray(clean)
        for _ in range(rng.randint(1, 10)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.5:
                data[pos] = rng.choice(b"\x01\n=8910 ")
            else:
                del data[pos : pos + rng.randint(1, 40)]
        path = tmp_path / f"m{round_}.log"
        path.write_bytes(
            bytes(data) if round_ % 2 else gzip.compress(bytes(data))[: -rng.randint(0, 30) or None]
        )
        records, reader = read(path)
        assert len(records) + reader.problem_count >= 1
        assert all(r.line >= 1 for r in records)
        assert all(p.line >= 0 and p.reason for p in reader.problems)


def test_store_body_with_a_newline_inside_raw_data(tmp_path: Path) -> None:
    """As QuickFIX's FileStore writes it: messages back to back, a RawData(96) holding SOH and LF."""
    data = b"a\x01b\nc"
    order = encode(
        "FIX.4.4",
        [(35, "D"), (34, 2), (49, "CLIENT1"), (56, "PLXTRA"), (11, "o1"), (95, len(data)), (96, data)],
    )
    path = tmp_path / "FIX.4.4-CLIENT1-PLXTRA.body"
    path.write_bytes(msg(1, msg_type="A") + order + msg(3, msg_type="5"))
    records, reader = read(path)
    assert reader.problems == []
    assert [(r.line, r.msg_type, r.direction) for r in records] == [
        (1, "A", "out"),
        (1, "D", "out"),
        (2, "5", "out"),
    ]
    assert records[1].message.get_bytes(96) == data
