"""Bringing the SQLite tables up to date from journal records (one transaction per batch).

A record's payload is one unit of the store (:mod:`gateway.store.orders_store` writes them):
an orjson array whose first item names the operation. The store has already validated each unit
against its memory before journaling it, so every statement here tolerates a repeat
(``OR IGNORE`` / ``OR REPLACE``): a batch can never fail on a constraint and stall the journal.

The batch and the ``applied_seq`` mark in ``meta`` commit together, so a crash in the middle of a
batch (crash point ``store-apply-midway``) leaves the database at the previous mark and recovery
applies the whole batch again. Used on the loop, by the apply thread and at recovery; it holds no
state of its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from gateway.failpoints import crash_point

__all__ = ["APPLIED_KEY", "applied_seq", "apply_frames", "dumps_text"]

APPLIED_KEY = "applied_seq"


def dumps_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def applied_seq(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (APPLIED_KEY,)).fetchone()
    return int(row[0]) if row else 0


def _decision(db: sqlite3.Connection, d: list[Any] | None) -> None:
    if d is None:
        return
    session, key, msg_type, cl_ord_id, outcome, request_id, answer, decided = d
    db.execute(
        "INSERT OR IGNORE INTO decisions (session, request_key, msg_type, cl_ord_id, outcome, "
        "request_id, answer, decided) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (session, key, msg_type, cl_ord_id, outcome, request_id,
         None if answer is None else dumps_text(answer), decided),
    )


def _outbound(db: sqlite3.Connection, rows: list[list[Any]]) -> None:
    if rows:
        db.executemany(
            "INSERT OR REPLACE INTO outbound (seq, session, exec_id, handed, msg_type, fields) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(seq, s, e, int(h), m, dumps_text(f)) for seq, s, e, h, m, f in rows],
        )


def _clordid(db: sqlite3.Connection, session: str, cl_ord_id: str, request_id: str | None, kind: str) -> None:
    db.execute("INSERT OR IGNORE INTO clordids (session, cl_ord_id, request_id, kind) VALUES (?, ?, ?, ?)",
               (session, cl_ord_id, request_id, kind))


def _unit(db: sqlite3.Connection, u: list[Any]) -> None:
    op = u[0]
    if op == "A":  # apply: order state, ExecIDs, decision, outbound rows
        _, rid, cl, oid, state, working, data, session, exec_ids, rows, decision = u
        if rid is not None:
            db.execute("UPDATE orders SET cl_ord_id = ?, order_id = ?, state = ?, working = ?, data = ? "
                       "WHERE request_id = ?", (cl, oid, state, int(working), dumps_text(data), rid))
        if exec_ids:
            db.executemany("INSERT OR IGNORE INTO execs (session, exec_id) VALUES (?, ?)",
                           [(session, e) for e in exec_ids])
        _decision(db, decision)
        _outbound(db, rows)
    elif op == "N":  # new order
        _, session, rid, cl, account, state, data, created, decision = u
        _clordid(db, session, cl, rid, "D")
        _decision(db, decision)
        db.execute("INSERT OR IGNORE INTO orders (request_id, session, account, cl_ord_id, order_id, state, "
                   "working, data, created) VALUES (?, ?, ?, ?, NULL, ?, 1, ?, ?)",
                   (rid, session, account, cl, state, dumps_text(data), created))
    elif op == "L":
        db.execute("UPDATE orders SET order_id = ? WHERE request_id = ?", (u[2], u[1]))
    elif op == "E":
        db.execute("INSERT OR IGNORE INTO execs (session, exec_id) VALUES (?, ?)", (u[1], u[2]))
    elif op == "C":
        _, session, cl, rid, kind, decision = u
        _clordid(db, session, cl, rid, kind)
        _decision(db, decision)
    elif op == "D":
        _decision(db, u[1])
    elif op == "O":
        _outbound(db, u[1])
    elif op == "H":
        db.executemany("UPDATE outbound SET handed = 1 WHERE seq = ?", [(s,) for s in u[1]])
    elif op == "X":
        db.executemany("DELETE FROM outbound WHERE seq = ?", [(s,) for s in u[1]])
    elif op == "R":
        db.execute("INSERT INTO meta (key, value) VALUES ('request_seq', ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(u[1]),))
    else:
        raise ValueError(f"unknown journal unit {op!r}")


def apply_frames(db: sqlite3.Connection, frames: Sequence[tuple[int, bytes]]) -> int:
    """Apply the records above the database's mark, in one transaction; returns the new mark.
    The connection must be in autocommit mode (``isolation_level=None``)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        mark = applied_seq(db)
        half = len(frames) // 2
        for i, (seq, payload) in enumerate(frames):
            if i == half:
                crash_point("store-apply-midway")
            if seq > mark:
                _unit(db, orjson.loads(payload))
                mark = seq
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (APPLIED_KEY, str(mark)))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return mark
