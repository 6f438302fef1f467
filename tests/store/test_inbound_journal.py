"""The inbound journal: thread-safe appends of whole lines that survive kill -9, torn tails, and
compaction that neither loses nor doubles a record appended meanwhile."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from gateway.store.inbound_journal import InboundJournal, journal_for, journal_path, replayable
from gateway.vocab.records import InboundMessage, SessionKey

REPO = Path(__file__).resolve().parents[2]
KEY = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")


def msg(cl: str, seq: int, received_ns: int = 1, msg_type: str = "D") -> InboundMessage:
    fields = ((35, msg_type), (34, str(seq)), (11, cl), (58, "é\n|\x01 text"), (55, "XS01"))
    return InboundMessage(KEY, msg_type, seq, fields, received_ns)


def test_threads_append_whole_lines_read_back_exactly(tmp_path: Path) -> None:
    journal = InboundJournal(tmp_path / "j")
    per_thread, threads = 300, 4

    def worker(n: int) -> None:
        for i in range(per_thread):
            journal.append(msg(f"t{n}-{i}", i + 1))

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(timeout=30)
    got = journal.records()
    assert len(got) == per_thread * threads
    expected = sorted(f"t{n}-{i}" for n in range(threads) for i in range(per_thread))
    assert sorted(m.get(11) for m in got) == expected
    for n in range(threads):  # each thread's records in its own order
        mine = [m.msg_seq_num for m in got if m.get(11, "").startswith(f"t{n}-")]
        assert mine == sorted(mine)
    assert got[0] == msg(got[0].get(11) or "", got[0].msg_seq_num) and got[0].get(58) == "é\n|\x01 text"
    journal.close()


def test_appended_records_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite.inbound"
    script = textwrap.dedent(f"""
        import os, signal
        from gateway.vocab.records import InboundMessage, SessionKey
        from gateway.store.inbound_journal import journal_for
        from pathlib import Path
        j = journal_for(Path({str(path)!r}))
        key = SessionKey("FIX.4.4", "PLXTRA", "CLIENT1")
        for i in range(50):
            j.append(InboundMessage(key, "D", i + 2, ((11, f"k{{i}}"),), 5))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -9, proc.stderr
    got = InboundJournal(path).records()
    assert [m.get(11) for m in got] == [f"k{i}" for i in range(50)]


def test_torn_tail_is_dropped_and_appends_start_clean(tmp_path: Path) -> None:
    path = tmp_path / "j"
    first = InboundJournal(path)
    first.append(msg("a", 2))
    first.close()
    with open(path, "ab") as f:
        f.write(b'{"s":["FIX.4.4","PLX')  # a write cut by a crash
    again = InboundJournal(path)
    again.append(msg("b", 3))
    assert [m.get(11) for m in again.records()] == ["a", "b"]
    again.close()


def test_compact_keeps_chosen_records_and_appends_continue(tmp_path: Path) -> None:
    journal = InboundJournal(tmp_path / "j")
    for i in range(10):
        journal.append(msg(f"c{i}", i + 2, received_ns=i + 1))
    assert journal.compact(lambda m: m.received_ns >= 8) == 7
    journal.append(msg("late", 20, received_ns=99))
    assert [m.get(11) for m in journal.records()] == ["c7", "c8", "c9", "late"]
    journal.close()


def test_replayable_selects_earlier_run_orders_unknown_to_the_store(tmp_path: Path) -> None:
    records = [msg("old-known", 2, 10), msg("old-lost", 3, 11), msg("old-f", 4, 12, "F"),
               msg("status", 5, 13, "H"), msg("this-run", 6, 100)]
    known = {"old-known"}
    got = replayable(records, 50, lambda m: m.get(11) in known)
    assert [m.get(11) for m in got] == ["old-lost", "old-f"]


def test_one_journal_per_path_in_a_process(tmp_path: Path) -> None:
    path = journal_path(tmp_path / "gw.sqlite")
    assert path.name == "gw.sqlite.inbound"
    a = journal_for(path)
    assert journal_for(tmp_path / "." / "gw.sqlite.inbound") is a
    a.close()
    assert journal_for(path) is not a  # a closed one is replaced
