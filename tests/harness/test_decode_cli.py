"""``plxtra-fix decode``: names and meanings, filters, JSON lines, problems, exit codes, pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.harness.codec import encode

REPO = Path(__file__).resolve().parents[2]


def msg(seq: int, sender: str, target: str, msg_type: str, *pairs: tuple[int, object]) -> bytes:
    return encode(
        "FIX.4.4",
        [(35, msg_type), (34, seq), (49, sender), (52, "20240102-10:00:00.000"), (56, target), *pairs],
    )


def order(seq: int, cl_ord_id: str, side: str = "1") -> bytes:
    return msg(seq, "CLIENT1", "PLXTRA", "D", (11, cl_ord_id), (55, "XS01"), (54, side), (38, 100), (40, "2"))


def fill(seq: int, cl_ord_id: str) -> bytes:
    return msg(
        seq, "PLXTRA", "CLIENT1", "8", (37, "O1"), (11, cl_ord_id), (150, "F"), (39, "2"), (58, "all done")
    )


@pytest.fixture()
def log(tmp_path: Path) -> Path:
    path = tmp_path / "FIX.4.4-PLXTRA-CLIENT1.messages.current.log"
    lines = [
        msg(1, "CLIENT1", "PLXTRA", "A", (98, "0"), (108, "30")),
        order(2, "ord-1"),
        fill(2, "ord-1"),
        order(3, "ord-2", side="2"),
        msg(4, "CLIENT1", "PLXTRA", "0"),
        msg(1, "CLIENT9", "PLXTRA", "D", (11, "other")),
    ]
    path.write_bytes(b"".join(b"20240102-10:00:0%d.000 : " % i + raw + b"\n" for i, raw in enumerate(lines)))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["decode", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_block_output_names_fields_and_meanings(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, out, err = run(capsys, str(log))
    assert code == 0 and err == ""
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 6
    order_block = blocks[1].splitlines()
    assert order_block[0] == (
        f"--- {log}:2  20240102-10:00:01.000  FIX.4.4:PLXTRA->CLIENT1  CLIENT1 -> PLXTRA (in)"
    )
    assert "  35=D (MsgType=NewOrderSingle)" in order_block
    assert "  54=1 (Side=BUY)" in order_block
    assert "  11=ord-1 (ClOrdID)" in order_block
    assert "  8=FIX.4.4 (BeginString)" in order_block
    assert "  39=2 (OrdStatus=FILLED)" in blocks[2].splitlines()
    assert "  150=F (ExecType=TRADE)" in blocks[2].splitlines()


def test_compact_mode_one_line_each(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, out, _ = run(capsys, "--compact", str(log))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 6
    assert lines[1] == (
        f"{log}:2 20240102-10:00:01.000 CLIENT1->PLXTRA NewOrderSingle(D) MsgSeqNum=2 SenderCompID=CLIENT1 "
        "SendingTime=20240102-10:00:00.000 TargetCompID=PLXTRA ClOrdID=ord-1 Symbol=XS01 Side=1(BUY) "
        "OrderQty=100 OrdType=2(LIMIT)"
    )


@pytest.mark.parametrize(
    ("args", "seqs"),
    [
        (["--msg-type", "D,8"], ["2", "2", "3", "1"]),
        (["--msg-type", "D", "--msg-type", "8"], ["2", "2", "3", "1"]),
        (["--msg-type", "ExecutionReport"], ["2"]),
        (["--session", "CLIENT1->PLXTRA"], ["1", "2", "2", "3", "4"]),  # both directions
        (["--session", "FIX.4.4:PLXTRA->CLIENT9"], ["1"]),
        (["--session", "FIX.4.2:CLIENT1->PLXTRA"], []),
        (["--grep", "11=ord-1"], ["2", "2"]),
        (["--grep", "ClOrdID=ord-1", "--grep", "35=8"], ["2"]),
        (["--grep", "Side=2"], ["3"]),
        (["--grep", "58~^all"], ["2"]),
        (["--no-admin"], ["2", "2", "3", "1"]),
        (["--limit", "2"], ["1", "2"]),
    ],
)
def test_filters(capsys: pytest.CaptureFixture[str], log: Path, args: list[str], seqs: list[str]) -> None:
    code, out, _ = run(capsys, "--json", *args, str(log))
    assert code == 0
    got = [
        next(f["value"] for f in json.loads(line)["fields"] if f["tag"] == 34) for line in out.splitlines()
    ]
    assert got == seqs


@pytest.mark.parametrize(
    "args",
    [
        ["--grep", "nonsense"],
        ["--grep", "NoSuchField=1"],
        ["--msg-type", "NoSuchMessage"],
        ["--session", "AB"],
    ],
)
def test_bad_filters_exit_2(capsys: pytest.CaptureFixture[str], log: Path, args: list[str]) -> None:
    code, out, err = run(capsys, *args, str(log))
    assert code == 2 and out == "" and "plxtra-fix decode:" in err


def test_json_lines(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, out, _ = run(capsys, "--json", "--msg-type", "8", str(log))
    assert code == 0
    (line,) = out.splitlines()
    obj = json.loads(line)
    assert {k: obj[k] for k in ("file", "line", "session", "direction", "msg_type", "sender", "target")} == {
        "file": str(log),
        "line": 3,
        "session": "FIX.4.4:PLXTRA->CLIENT1",
        "direction": "out",
        "msg_type": "8",
        "sender": "PLXTRA",
        "target": "CLIENT1",
    }
    assert obj["time"] == "2024-01-02T10:00:02+00:00"
    assert obj["msg_type_name"] == "ExecutionReport"
    assert obj["fields"][2] == {"tag": 35, "name": "MsgType", "value": "8", "meaning": "ExecutionReport"}
    assert {"tag": 39, "name": "OrdStatus", "value": "2", "meaning": "FILLED"} in obj["fields"]
    assert obj["fields"][-1]["tag"] == 10


def test_problems_summarised_on_stderr_and_strict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    good = order(1, "a")
    bad = good[:-4] + b"%03d\x01" % ((int(good[-4:-1]) + 1) % 256)
    path.write_bytes(good + b"\n" + bad + b"\n" + b"8=FIX.4.4\x019=zz\x01\n")
    code, out, err = run(capsys, "--compact", str(path))
    assert code == 0
    assert len(out.splitlines()) == 2 and "!checksum" in out.splitlines()[1]
    assert out.splitlines()[1].endswith("computed 048, MsgType D")   # the problem, beside the message
    assert "2 problem(s) found" in err
    assert f"{path}:2: CheckSum(10)" in err and f"{path}:3: BodyLength(9)" in err
    code, _, _ = run(capsys, "--strict", str(path))
    assert code == 1


@pytest.mark.parametrize("mode", [[], ["--strict"], ["--json"], ["--compact", "--strict"]])
def test_unreadable_input_is_a_usage_error(capsys: pytest.CaptureFixture[str], log: Path,
                                           mode: list[str]) -> None:
    missing = log.parent / "missing.log"
    for bad in (missing, log.parent):   # absent, and a directory
        code, out, err = run(capsys, *mode, str(log), str(bad))
        assert code == 2, err
        assert out == ""   # nothing decoded from the good file either: the command line is wrong
        assert f"cannot read {bad}:" in err
    assert "No such file or directory" in run(capsys, *mode, str(missing))[2]


def test_strict_fails_on_input_without_fix_messages(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    empty, prose = tmp_path / "empty.log", tmp_path / "prose.log"
    empty.write_bytes(b"")
    prose.write_text("2026-11-25 gateway started\nno FIX in here\n", encoding="utf-8")
    for path in (empty, prose):
        assert run(capsys, str(path))[0] == 0
        code, out, err = run(capsys, "--strict", str(path))
        assert code == 1 and out == ""
        assert "no FIX message found" in err


def test_real_process_missing_file_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "gateway", "decode", str(tmp_path / "nonexistent.log")],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert "cannot read" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("default_appl_ver", "segment_line"), [("9", "  1300=SEG (MarketSegmentID)"), ("6", "  1300=SEG")]
)
def test_fixt_uses_the_application_version(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, default_appl_ver: str, segment_line: str
) -> None:
    path = tmp_path / "fixt.log"
    logon = encode(
        "FIXT.1.1",
        [(35, "A"), (34, 1), (49, "C"), (56, "P"), (98, "0"), (108, "30"), (1137, default_appl_ver)],
    )
    new_order = encode(
        "FIXT.1.1", [(35, "D"), (34, 2), (49, "C"), (56, "P"), (11, "x"), (54, "1"), (40, "1"), (1300, "SEG")]
    )
    path.write_bytes(logon + b"\n" + new_order + b"\n")
    code, out, _ = run(capsys, str(path))
    assert code == 0
    assert "  35=A (MsgType=Logon)" in out
    assert f"  1137={default_appl_ver} (DefaultApplVerID)" in out
    assert "  35=D (MsgType=NewOrderSingle)" in out
    # MarketSegmentID(1300) exists from FIX.5.0 on: named only when the Logon said FIX50SP2 (9)
    assert segment_line in out.splitlines()


def test_missing_dictionary_warns_and_prints_plain(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "nodict"
    empty.mkdir()
    code, out, err = run(capsys, "--dictionary-dir", str(empty), "--msg-type", "D", str(log))
    assert code == 0
    assert "  35=D" in out.splitlines() and "  54=1" in out.splitlines()
    assert err.count("no dictionary for FIX.4.4") == 1


def test_real_process_stdin_and_broken_pipe(log: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "decode", "--compact", "--msg-type", "D", "-"],
        input=log.read_bytes(),
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [line.split()[3] for line in done.stdout.decode().splitlines()] == ["NewOrderSingle(D)"] * 3
    assert done.stdout.decode().startswith("<stdin>:2 ")
    # a reader that goes away after one line (| head -1): no traceback
    big = log.parent / "big.log"
    big.write_bytes(log.read_bytes() * 3000)
    with subprocess.Popen(
        [sys.executable, "-m", "gateway", "decode", str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        proc.stdout = None  # communicate() now only drains stderr, within the timeout
        _, err = proc.communicate(timeout=60)
        code = proc.returncode
    assert first.startswith(b"--- ")
    assert b"Traceback" not in err, err
    assert code == 0


def test_malformed_fields_shown_raw_and_reported_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = b"35=D\x0134=1\x0149=A\x0152=x\x0156=B\x0111=ok\x01oops\x01"
    raw = b"8=FIX.4.4\x019=%d\x01%s" % (len(body), body)
    raw += b"10=%03d\x01" % (sum(raw) % 256)
    path = tmp_path / "m.log"
    path.write_bytes(raw + b"\n" + order(2, "fine") + b"\n")
    code, out, err = run(capsys, str(path))
    assert code == 0
    assert f"--- {path}:1  FIX.4.4:A->B  A -> B  MALFORMED: field without '='" in out
    assert "  8=FIX.4.4|9=" in out and "  11=ord-2 (ClOrdID)" not in out and "  11=fine (ClOrdID)" in out
    assert err.count(f"{path}:1:") == 1
    code, out, _ = run(capsys, "--json", str(path))
    first = json.loads(out.splitlines()[0])
    assert first["fields"] is None and first["error"].startswith("field without '='")
    code, out, _ = run(capsys, "--grep", "11=fine", "--compact", str(path))
    assert len(out.splitlines()) == 1


def test_session_summary(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, out, err = run(capsys, "--summary", "--msg-type", "0", str(log))
    assert code == 0 and len(out.strip().split("\n\n")) == 1
    assert "2 session(s):" in err
    assert (
        "  FIX.4.4:PLXTRA->CLIENT1: 5 message(s) (CLIENT1 sent 4, PLXTRA sent 1), "
        "20240102-10:00:00.000 .. 20240102-10:00:04.000"
    ) in err
    # no owner known for this pair (the file is named for CLIENT1): seen from its first sender
    assert "  FIX.4.4:CLIENT9->PLXTRA: 1 message(s) (CLIENT9 sent 1), 20240102-10:00:05.000 .." in err


def test_repeating_groups_are_indented(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    snapshot = msg(
        9, "PLXTRA", "CLIENT1", "W",
        (262, "md-1"), (55, "XS01"), (268, 2),
        (269, "0"), (270, "10.00"), (271, 100),
        (269, "1"), (270, "10.05"), (271, 200), (58, "Text is an MDEntries member in FIX.4.4"),
    )  # fmt: skip
    path = tmp_path / "md.log"
    path.write_bytes(snapshot + b"\n")
    code, out, _ = run(capsys, str(path))
    assert code == 0
    lines = out.splitlines()
    start = lines.index("  268=2 (NoMDEntries)")
    assert lines[start + 1 : start + 8] == [
        "    269=0 (MDEntryType=BID)",
        "    270=10.00 (MDEntryPx)",
        "    271=100 (MDEntrySize)",
        "    269=1 (MDEntryType=OFFER)",
        "    270=10.05 (MDEntryPx)",
        "    271=200 (MDEntrySize)",
        "    58=Text is an MDEntries member in FIX.4.4 (Text)",
    ]
    assert lines[start + 8].startswith("  10=") and lines[start + 8].endswith(" (CheckSum)")
    assert "  262=md-1 (MDReqID)" in lines and "  55=XS01 (Symbol)" in lines


def test_json_escapes_values_exactly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = 'he said "hi" \\ caf\xe9 \t'
    data = "x\x01y\nz"
    raw = msg(1, "A", "B", "B", (148, "headline"), (58, text), (95, len(data)), (96, data.encode("latin-1")))
    path = tmp_path / "news.log"
    path.write_bytes(raw + b"\n")
    code, out, _ = run(capsys, "--json", str(path))
    assert code == 0
    fields = {f["tag"]: f for f in json.loads(out)["fields"]}
    assert fields[58] == {"tag": 58, "name": "Text", "value": text, "meaning": None}
    assert fields[96]["value"] == data and fields[95]["name"] == "RawDataLength"
    assert fields[35]["meaning"] == "News"
