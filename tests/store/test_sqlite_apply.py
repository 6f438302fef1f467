"""The batch apply (gateway.store.sqlite_apply) by net effect against the units' definition, on
real SQLite files: random unit sequences over a few keys (so orders are inserted, updated before
and after their insert, outbound rows inserted, handed, deleted and reused, ClOrdIDs, decisions
and ExecIDs repeated), on top of random rows of an earlier batch, must leave every table equal to
the units applied one by one."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.store.database import SqliteDatabase
from gateway.store.sqlite_apply import (
    applied_seq,
    apply_frames,
    apply_units_one_by_one,
    data_text,
    decode_unit,
    dumps_text,
    encode_unit,
)

SESSIONS = ("S1", "S2")
TABLES = {
    "orders": "request_id",
    "clordids": "session, cl_ord_id",
    "decisions": "session, request_key",
    "execs": "session, exec_id",
    "outbound": "seq",
    "meta": "key",
    "sqlite_sequence": "name",
}


def _decision(r: random.Random) -> list[Any] | None:
    if r.random() < 0.4:
        return None
    answer = None if r.random() < 0.5 else ["8", [[39, "8"], [58, f"why {r.randrange(3)}"]]]
    return [r.choice(SESSIONS), f"k{r.randrange(6)}", r.choice("DFG"), f"c{r.randrange(6)}",
            r.choice(("accepted", "rejected")), r.choice((None, f"r{r.randrange(5)}")), answer,
            r.randrange(1000)]


def _rows(r: random.Random) -> list[list[Any]]:
    return [[r.randrange(1, 16), r.choice(SESSIONS), r.choice((None, f"e{r.randrange(5)}")),
             r.random() < 0.5, "8", [[37, f"o{r.randrange(4)}"], [150, r.choice("0F")]]]
            for _ in range(r.randrange(3))]


def _unit(r: random.Random) -> list[Any]:
    op = r.choice("AAANNLLECDOHXR")
    rid = f"r{r.randrange(5)}"
    data: Any = {"state": r.choice("0124"), "cum": str(r.randrange(100)), "terms": {"px": "4.00"}}
    if r.random() < 0.5:  # as the store writes it for SQLite: the JSON text (else a journal of before)
        data = dumps_text(data)
    if op == "A":
        return ["A", r.choice((rid, rid, None)), f"c{r.randrange(6)}", r.choice((None, f"o{r.randrange(4)}")),
                r.choice("0124"), r.random() < 0.5, data, r.choice(SESSIONS),
                [f"e{r.randrange(5)}" for _ in range(r.randrange(3))], _rows(r), _decision(r)]
    if op == "N":
        return ["N", r.choice(SESSIONS), rid, f"c{r.randrange(6)}", "XS:0001", "A", data, r.randrange(100),
                _decision(r)]
    if op == "L":
        return ["L", rid, f"o{r.randrange(4)}"]
    if op == "E":
        return ["E", r.choice(SESSIONS), f"e{r.randrange(5)}"]
    if op == "C":
        return ["C", r.choice(SESSIONS), f"c{r.randrange(6)}", r.choice((None, rid)), r.choice("GFq"),
                _decision(r)]
    if op == "D":
        return ["D", _decision(r) or [r.choice(SESSIONS), "k0", "D", "c0", "rejected", None, None, 1]]
    if op == "O":
        return ["O", _rows(r)]
    if op in "HX":
        return [op, [r.randrange(1, 16) for _ in range(r.randrange(1, 4))]]
    return ["R", r.randrange(1, 5000)]


def _tables(db: sqlite3.Connection) -> dict[str, list[Any]]:
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY {k}").fetchall() for t, k in TABLES.items()}


def _open(path: Path) -> SqliteDatabase:
    db = SqliteDatabase(path)
    db.conn.execute("UPDATE meta SET value = 'fixed' WHERE key = 'instance'")  # random per file
    return db


def _one_by_one(db: sqlite3.Connection, units: list[list[Any]], mark: int) -> None:
    db.execute("BEGIN IMMEDIATE")
    # Decoded afresh, as the apply does: the units must not share lists between the two sides.
    apply_units_one_by_one(db, [orjson.loads(orjson.dumps(u)) for u in units])
    db.execute("INSERT INTO meta (key, value) VALUES ('applied_seq', ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(mark),))
    db.execute("COMMIT")


@pytest.mark.parametrize("seed", range(8))
def test_net_effect_equals_units_one_by_one(tmp_path: Path, seed: int) -> None:
    r = random.Random(seed)
    for case in range(40):
        earlier = [_unit(r) for _ in range(r.randrange(0, 12))]
        batch = [_unit(r) for _ in range(r.randrange(1, 30))]
        ref, net = _open(tmp_path / f"ref{case}.sqlite"), _open(tmp_path / f"net{case}.sqlite")
        try:
            for db in (ref, net):
                _one_by_one(db.conn, earlier, len(earlier))
            _one_by_one(ref.conn, batch, len(earlier) + len(batch))
            frames = [(len(earlier) + 1 + i, orjson.dumps(u)) for i, u in enumerate(batch)]
            assert apply_frames(net.conn, frames) == len(earlier) + len(batch)
            assert _tables(net.conn) == _tables(ref.conn), (seed, case, earlier, batch)
        finally:
            ref.close()
            net.close()


def test_repeat_of_an_applied_batch_changes_nothing(tmp_path: Path) -> None:
    """Records at or below the mark are skipped; under a lost mark the same units applied again
    (every statement tolerates a repeat: nothing fails) give what the units twice one by one give."""
    r = random.Random(99)
    batch = [_unit(r) for _ in range(60)]
    frames = [(i + 1, orjson.dumps(u)) for i, u in enumerate(batch)]
    db, ref = _open(tmp_path / "gw.sqlite"), _open(tmp_path / "ref.sqlite")
    try:
        assert apply_frames(db.conn, frames) == 60
        once = _tables(db.conn)
        assert apply_frames(db.conn, frames) == 60
        assert apply_frames(db.conn, frames[:30]) == 60
        assert _tables(db.conn) == once
        db.conn.execute("UPDATE meta SET value = '0' WHERE key = 'applied_seq'")
        assert apply_frames(db.conn, frames) == 60
        _one_by_one(ref.conn, batch, 60)
        _one_by_one(ref.conn, batch, 60)
        assert _tables(db.conn) == _tables(ref.conn)
        assert applied_seq(db.conn) == 60
    finally:
        db.close()
        ref.close()


def test_outbound_rows_inserted_and_confirmed_in_one_batch_are_never_written(tmp_path: Path) -> None:
    """The common batch: a report's row is inserted and QuickFIX took it before the apply; the row
    never reaches the table, its seq still counts for the next ones (outbound_top)."""
    db = _open(tmp_path / "gw.sqlite")
    try:
        trace: list[str] = []
        db.conn.set_trace_callback(trace.append)

        def report(seq: int, e: str) -> list[Any]:
            row = [seq, "S1", e, True, "8", [[17, e]]]
            return ["A", None, "", None, "", False, {}, "S1", [e], [row], None]

        units = [report(1, "e1"), ["X", [1]], report(2, "e2"), ["X", [2]]]
        apply_frames(db.conn, [(i + 1, orjson.dumps(u)) for i, u in enumerate(units)])
        db.conn.set_trace_callback(None)
        assert not [s for s in trace if "outbound (" in s or "DELETE FROM outbound" in s], trace
        assert db.outbound() == []
        assert db.outbound_top() == 2
        assert sorted(db.conn.execute("SELECT exec_id FROM execs")) == [("e1",), ("e2",)]
    finally:
        db.close()


def _payload_with_pieces(u: list[Any]) -> bytes:
    """The payload the store writes today for ``u``: its JSON columns as pieces after the head."""
    u = orjson.loads(orjson.dumps(u))
    pieces: list[bytes] = []
    if u[0] in ("N", "A"):
        data = u[6]
        pieces.append(data.encode() if isinstance(data, str) else orjson.dumps(data))
        u[6] = None
    rows_at = {"A": 9, "O": 1}.get(u[0])
    if rows_at is not None:
        for row in u[rows_at]:
            pieces.append(orjson.dumps(row[5]))
            row[5] = None
    payload = encode_unit(u, pieces)
    assert (b"\n" in payload) == bool(pieces)
    return payload


@pytest.mark.parametrize("seed", range(4))
def test_units_with_pieces_and_earlier_units_give_the_same_tables(tmp_path: Path, seed: int) -> None:
    """A journal mixes units of earlier versions (data as text or object, fields inline) with
    units whose JSON columns are pieces: decoded, each is the same unit; applied, the same tables."""
    r = random.Random(1000 + seed)
    for case in range(25):
        earlier = [_unit(r) for _ in range(r.randrange(0, 12))]
        batch = [_unit(r) for _ in range(r.randrange(1, 30))]
        ref, net = _open(tmp_path / f"ref{case}.sqlite"), _open(tmp_path / f"net{case}.sqlite")
        try:
            _one_by_one(ref.conn, earlier + batch, len(earlier) + len(batch))
            frames = [(i + 1, _payload_with_pieces(u) if r.random() < 0.7 else orjson.dumps(u))
                      for i, u in enumerate(earlier + batch)]
            apply_frames(net.conn, frames[:len(earlier)])
            assert apply_frames(net.conn, frames) == len(earlier) + len(batch)
            assert _tables(net.conn) == _tables(ref.conn), (seed, case, earlier, batch)
            for (_, payload), u in zip(frames, earlier + batch, strict=True):
                got = decode_unit(payload)
                if got[0] in ("N", "A"):
                    assert orjson.loads(data_text(got[6])) == orjson.loads(data_text(u[6]))
                    got[6] = u[6]
                rows_at = {"A": 9, "O": 1}.get(got[0])
                if rows_at is not None:
                    for row in got[rows_at]:
                        row[5] = orjson.loads(data_text(row[5]))
                assert got == orjson.loads(orjson.dumps(u))
        finally:
            ref.close()
            net.close()
