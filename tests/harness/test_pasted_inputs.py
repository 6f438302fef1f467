"""What people paste: decode and replay read it, with its problems beside each message.

Messages cut from tickets and chats: the last field without a delimiter, ``|`` with blanks around
it, BodyLength and CheckSum as placeholders (9=0, 10=0, one or two digits). Also ``--session A:B``
(no shell quoting needed) and ``./dev.sh CMD relative/path`` from another directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.harness.codec import encode
from gateway.harness.replay import load_recording

REPO = Path(__file__).resolve().parents[2]
HEARTBEAT = "35=0|49=CLIENT1|56=PLXTRA|34=2|52=20060516-22:35:40|"
_GOOD = encode("FIX.4.4", [(35, "0"), (49, "CLIENT1"), (56, "PLXTRA"), (34, 2), (52, "20060516-22:35:40")])
LENGTH = len(HEARTBEAT)                      # 52
CHECKSUM = _GOOD[-4:-1].decode()             # as the correct SOH message has it

PASTES = {
    "no final delimiter": (f"8=FIX.4.4|9={LENGTH}|{HEARTBEAT}10={CHECKSUM}",
                           ["no delimiter after the last field"]),
    "blanks around bars": ("8=FIX.4.4 | 9=52 | " + HEARTBEAT.replace("|", " | ") + f"10={CHECKSUM} |",
                           ["blanks around the field delimiters"]),
    "placeholder length and checksum": (f"8=FIX.4.4|9=0|{HEARTBEAT}10=0|",
                                        [f"BodyLength(9) is 0, actual {LENGTH}",
                                         f"CheckSum(10) 0, computed {CHECKSUM}"]),
    "two-digit checksum": (f"8=FIX.4.4|9={LENGTH}|{HEARTBEAT}10=39|",
                           [f"CheckSum(10) 39, computed {CHECKSUM}"]),
    "no trailer at all": (f"8=FIX.4.4|9={LENGTH}|{HEARTBEAT}", ["missing trailer"]),
}


@pytest.mark.parametrize("case", list(PASTES))
def test_decode_shows_pasted_messages_with_their_problems(case: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    text, problems = PASTES[case]
    path = tmp_path / "paste.txt"
    path.write_text(f"some words before\n{text}\n{text.replace('34=2', '34=3')}\n")
    assert main(["decode", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.count("35=0 (MsgType=Heartbeat)") == 2, out + err
    assert "34=3 (MsgSeqNum)" in out
    head, _, _ = out.partition("8=FIX.4.4 (BeginString)")
    for problem in problems:
        assert problem in head, f"{problem!r} not shown beside the first message:\n{out}"
    assert main(["decode", "--strict", str(path)]) == 1
    capsys.readouterr()


def test_replay_reads_pastes_and_warns_once_per_file(tmp_path: Path) -> None:
    order = ("35=D|49=CLIENT1|56=PLXTRA|34={n}|52=20060516-22:35:40|11=o{n}|55=XS01|54=1|38=1|40=1"
             "|60=20060516-22:35:40")
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("".join(f"8=FIX.4.4 | 9=0 | {order.format(n=n).replace('|', ' | ')} | 10=0\n"
                             for n in (2, 3)))
    second.write_text(f"8=FIX.4.4|9=0|{order.format(n=4)}|10=1\n")
    recording = load_recording([str(first), str(second)], "CLIENT1:PLXTRA")
    assert [r.message.get(11) for r in recording.records] == ["o2", "o3", "o4"]
    assert len(recording.warnings) == 2 and str(first) in recording.warnings[0], recording.warnings


def test_session_filter_accepts_a_colon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two.log"
    path.write_text(f"8=FIX.4.4|9=0|{HEARTBEAT}10=0|\n"
                    + f"8=FIX.4.4|9=0|{HEARTBEAT}10=0|\n".replace("CLIENT1", "CLIENT9"))
    for spec in ("CLIENT1:PLXTRA", "CLIENT1->PLXTRA", "FIX.4.4:CLIENT1:PLXTRA"):
        assert main(["decode", "--compact", "--session", spec, str(path)]) == 0
        out = capsys.readouterr().out
        assert out.count("CLIENT1->PLXTRA") == 1 and "CLIENT9" not in out, (spec, out)
    assert main(["decode", "--session", "CLIENT1", str(path)]) == 2
    assert "SENDER:TARGET" in capsys.readouterr().err


def test_dev_sh_keeps_the_callers_directory(tmp_path: Path) -> None:
    """dev.sh in a copy of the repository whose .venv is a stand-in that reports what it got."""
    repo, elsewhere = tmp_path / "repo", tmp_path / "work"
    (repo / ".venv" / "bin").mkdir(parents=True)
    elsewhere.mkdir()
    shutil.copy(REPO / "dev.sh", repo / "dev.sh")
    # dev.sh's install stamp covers what the venv is built from: pyproject and the QuickFIX build
    stamped = ["pyproject.toml", "deploy/build-quickfix-ssl.sh", "deploy/patch-quickfix.py",
               "deploy/quickfix-loop-sockets.cpp"]
    (repo / "deploy").mkdir()
    for name in stamped:
        shutil.copy(REPO / name, repo / name)
    digest = hashlib.sha1(b"".join((repo / name).read_bytes() for name in stamped)).hexdigest()[:12]
    (repo / ".venv" / f".installed-{digest}").touch()
    (repo / ".venv" / "bin" / "python").symlink_to(sys.executable)
    fake = repo / ".venv" / "bin" / "plxtra-fix"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do [ -e "$a" ] && echo "found $a"; done\necho "cwd $PWD"\n')
    fake.chmod(0o755)
    (elsewhere / "logs").mkdir()
    (elsewhere / "logs" / "day1.log").write_text("x")
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    done = subprocess.run(["bash", str(repo / "dev.sh"), "decode", "logs/day1.log"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "found logs/day1.log" in done.stdout and f"cwd {elsewhere}" in done.stdout, done.stdout
