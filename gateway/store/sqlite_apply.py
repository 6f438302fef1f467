"""Bringing the SQLite tables up to date from journal records (one transaction per batch).

A record's payload is one unit of the store (:mod:`gateway.store.orders_store` writes them):
an orjson array whose first item names the operation. The JSON columns a unit carries whole (an
order's ``data`` in "N" and "A", each outbound row's ``fields`` in "A" and "O") follow the array
as *pieces*: ``head \n data \n fields \n fields ...`` (:func:`encode_unit`), their slots in the
head null. The apply reads only the head as JSON and stores a piece's bytes as the column's text
as they are (the last state of an order is the only data written, and most outbound rows are
confirmed within their batch and never written): the pieces are never parsed, and never escaped
as a string inside the head. orjson never writes a raw newline, so a payload without one is a
unit of an earlier version: its ``data`` is the column's JSON text as a string (the store encoded
it once) or, older still, the object itself, and its ``fields`` the decoded list; both are read as
they always were (:func:`decode_unit`). Measured on a flood's records (bench/store_ops.py
``--apply --flood``, in-process timing of the fold): decoding and folding 8.6 -> 5.5 us per order
(an "A" head parses in 2.6 us, with its data as an escaped string in 4.2); the store's write of an
"A" 1.8 -> 0.7 us for the head plus one ``orjson.dumps`` per piece; 2,080 -> 1,885 journal bytes
per order. The store has already validated each unit
against its memory before journaling it, so every statement here tolerates a repeat
(``OR IGNORE`` / ``OR REPLACE``): a batch can never fail on a constraint and stall the journal.

A batch is applied by its net effect (:class:`NetEffect`), not unit by unit: the units are decoded
once and folded per row in Python, then each table gets one ``executemany`` per statement shape.
The fold gives exactly the tables the units applied one by one give (tests/store/
test_sqlite_apply.py compares both on random sequences): the last state of an order wins (an "A"
carries every column it sets), the first ClOrdID / decision / ExecID wins (``OR IGNORE``), an
outbound row inserted and then handed or deleted within the batch is written once or not at all
(its seq still raises ``sqlite_sequence``, as the insert would have), and statements that can only
hit rows of earlier batches (an update, a delete) are kept for those rows. Tables share no rows,
so their order does not matter; within one order the fold keeps the sequential semantics
(an update before the order's insert only touches a row that already existed).

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

__all__ = ["APPLIED_KEY", "NetEffect", "applied_seq", "apply_frames", "apply_units_one_by_one", "data_text",
           "decode_unit", "dumps_text", "encode_unit"]

APPLIED_KEY = "applied_seq"


def dumps_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def data_text(data: Any) -> str:
    """A JSON column (an order's ``data``, an outbound row's ``fields``) as the unit carries it: a
    piece (bytes, the JSON text), the JSON text as a string (``data`` in journals of the previous
    version) or the decoded value (older journals, and the one-by-one definition's inputs)."""
    t = type(data)
    if t is bytes:
        return data.decode()
    return data if t is str else dumps_text(data)


_SEP = b"\n"
_DATA_AT = 6  # the ``data`` slot of an "N" and of an "A"
_ROWS_AT = {"A": 9, "O": 1}  # the outbound rows' slot; a row's ``fields`` is its item 5


def encode_unit(head: list[Any], pieces: Sequence[bytes]) -> bytes:
    """A unit's payload: ``head`` (its data / fields slots None) then its pieces, in slot order
    (the data of an "N" or "A" first, then each outbound row's fields). Raises TypeError if the
    head is not serializable."""
    if not pieces:
        return orjson.dumps(head, option=orjson.OPT_NON_STR_KEYS)
    return _SEP.join((orjson.dumps(head, option=orjson.OPT_NON_STR_KEYS), *pieces))


def decode_unit(payload: bytes) -> list[Any]:
    """The unit of a payload, its pieces (JSON text, as bytes) back in their slots, not parsed."""
    head, sep, tail = payload.partition(_SEP)
    u: list[Any] = orjson.loads(head)
    if sep:
        pieces = tail.split(_SEP)
        op = u[0]
        i = 0
        if op == "N" or op == "A":
            u[_DATA_AT] = pieces[0]
            i = 1
        rows_at = _ROWS_AT.get(op)
        if rows_at is not None:
            for row in u[rows_at]:
                row[5] = pieces[i]
                i += 1
    return u


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
            [(seq, s, e, int(h), m, data_text(f)) for seq, s, e, h, m, f in rows],
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
                       "WHERE request_id = ?", (cl, oid, state, int(working), data_text(data), rid))
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
                   (rid, session, account, cl, state, data_text(data), created))
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


def apply_units_one_by_one(db: sqlite3.Connection, units: Sequence[list[Any]]) -> None:
    """The definition of what each unit does: its statements, unit after unit (no transaction of
    its own). :class:`NetEffect` must leave the same tables; the tests hold it to that."""
    for u in units:
        _unit(db, u)


# Outbound row states in a batch's fold besides "this row" (a list): deleted, or (no insert of it
# seen yet) handed if an earlier batch wrote it.
_GONE = 0
_HANDED = 1

class _Keep:
    """A column no unit of the batch set (an "L"-only fold): left as the row has it."""

    __slots__ = ()


_KEEP: Any = _Keep()


_UPDATE_FULL = ("UPDATE orders SET cl_ord_id = ?, order_id = ?, state = ?, working = ?, data = ? "
                "WHERE request_id = ?")
_UPDATE_OID = "UPDATE orders SET order_id = ? WHERE request_id = ?"
_INSERT_ORDER = ("INSERT INTO orders (request_id, session, account, cl_ord_id, order_id, state, working, "
                 "data, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ")
_UPSERT_NONE = _INSERT_ORDER + "ON CONFLICT (request_id) DO NOTHING"
_UPSERT_FULL = _INSERT_ORDER + ("ON CONFLICT (request_id) DO UPDATE SET cl_ord_id = excluded.cl_ord_id, "
                                "order_id = excluded.order_id, state = excluded.state, "
                                "working = excluded.working, data = excluded.data")
_UPSERT_OID = _INSERT_ORDER + "ON CONFLICT (request_id) DO UPDATE SET order_id = excluded.order_id"


class _Order:
    """One order's units in a batch: the updates before its "N" (they only touch a row an earlier
    batch wrote), the "N" row, the updates after it. An update is the columns it sets: an "A"
    sets all five of _ORDER_FULL, an "L" only the order ID."""

    __slots__ = ("after", "before", "new")

    def __init__(self) -> None:
        self.before: list[Any] | None = None  # [cl_ord_id, order_id, state, working, data] or None
        self.after: list[Any] | None = None
        self.new: list[Any] | None = None     # the INSERT's values (first "N"; a later one is a no-op)


def _set_full(u: list[Any]) -> list[Any]:
    # u = ["A", rid, cl, oid, state, working, data, ...]: it sets every column, whatever came before
    return [u[2], u[3], u[4], int(u[5]), u[6]]


def _set_oid(cols: list[Any] | None, oid: Any) -> list[Any]:
    if cols is None:
        return [_KEEP, oid, _KEEP, _KEEP, _KEEP]
    cols[1] = oid
    return cols


class NetEffect:
    """The net effect of a sequence of units on each table (pure: no database), then written with
    one ``executemany`` per statement (:meth:`write`)."""

    def __init__(self) -> None:
        self.orders: dict[str, _Order] = {}
        self.clordids: dict[tuple[str, str], tuple[str, str, Any, str]] = {}
        self.decisions: dict[tuple[str, str], list[Any]] = {}
        self.execs: dict[tuple[str, str], None] = {}
        self.outbound: dict[int, Any] = {}  # seq -> row (list), _GONE or _HANDED
        self.request_seq: Any = None
        self.top_inserted = 0  # highest outbound seq inserted (sqlite_sequence follows it)

    # --- folding -------------------------------------------------------------------------------

    def add(self, u: list[Any]) -> None:
        op = u[0]
        if op == "A":
            _, rid, _cl, _oid, _state, _working, _data, session, exec_ids, rows, decision = u
            if rid is not None:
                o = self._order(rid)
                if o.new is None:
                    o.before = _set_full(u)
                else:
                    o.after = _set_full(u)
            if exec_ids:
                execs = self.execs
                for e in exec_ids:
                    execs[(session, e)] = None
            self._decision(decision)
            self._outbound(rows)
        elif op == "N":
            _, session, rid, cl, account, state, data, created, decision = u
            self._clordid(session, cl, rid, "D")
            self._decision(decision)
            o = self._order(rid)
            if o.new is None:
                o.new = [rid, session, account, cl, None, state, 1, data, created]
        elif op == "L":
            o = self._order(u[1])
            if o.new is None:
                o.before = _set_oid(o.before, u[2])
            else:
                o.after = _set_oid(o.after, u[2])
        elif op == "E":
            self.execs[(u[1], u[2])] = None
        elif op == "C":
            _, session, cl, rid, kind, decision = u
            self._clordid(session, cl, rid, kind)
            self._decision(decision)
        elif op == "D":
            self._decision(u[1])
        elif op == "O":
            self._outbound(u[1])
        elif op == "H":
            out = self.outbound
            for s in u[1]:
                got = out.get(s)
                if got is None:
                    out[s] = _HANDED
                elif type(got) is list:
                    got[3] = 1
        elif op == "X":
            out = self.outbound
            for s in u[1]:
                out[s] = _GONE
        elif op == "R":
            self.request_seq = str(u[1])
        else:
            raise ValueError(f"unknown journal unit {op!r}")

    def _order(self, rid: str) -> _Order:
        o = self.orders.get(rid)
        if o is None:
            o = self.orders[rid] = _Order()
        return o

    def _clordid(self, session: str, cl: str, rid: str | None, kind: str) -> None:
        key = (session, cl)
        if key not in self.clordids:
            self.clordids[key] = (session, cl, rid, kind)

    def _decision(self, d: list[Any] | None) -> None:
        if d is not None:
            key = (d[0], d[1])
            if key not in self.decisions:
                self.decisions[key] = d

    def _outbound(self, rows: list[list[Any]]) -> None:
        out = self.outbound
        for row in rows:
            seq = row[0]
            row[3] = int(row[3])
            out[seq] = row
            if seq > self.top_inserted:
                self.top_inserted = seq

    # --- writing -------------------------------------------------------------------------------

    def write(self, db: sqlite3.Connection, midway: bool = False) -> None:
        """The statements of the net effect, inside the caller's transaction; ``midway``: the
        crash point ``store-apply-midway`` between the orders and the rest."""
        self._write_orders(db)
        if midway:
            crash_point("store-apply-midway")
        if self.clordids:
            db.executemany("INSERT OR IGNORE INTO clordids (session, cl_ord_id, request_id, kind) "
                           "VALUES (?, ?, ?, ?)", self.clordids.values())
        if self.decisions:
            db.executemany(
                "INSERT OR IGNORE INTO decisions (session, request_key, msg_type, cl_ord_id, outcome, "
                "request_id, answer, decided) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(s, k, m, c, o, r, None if a is None else dumps_text(a), t)
                 for s, k, m, c, o, r, a, t in self.decisions.values()])
        if self.execs:
            db.executemany("INSERT OR IGNORE INTO execs (session, exec_id) VALUES (?, ?)", self.execs)
        if self.outbound:
            self._write_outbound(db)
        if self.request_seq is not None:
            db.execute("INSERT INTO meta (key, value) VALUES ('request_seq', ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (self.request_seq,))

    def _write_orders(self, db: sqlite3.Connection) -> None:
        full: list[tuple[Any, ...]] = []
        oid: list[tuple[Any, ...]] = []
        upserts: dict[str, list[tuple[Any, ...]]] = {_UPSERT_NONE: [], _UPSERT_FULL: [], _UPSERT_OID: []}
        for rid, o in self.orders.items():
            if o.before is not None:  # a row of an earlier batch, if there is one
                b = o.before
                if b[0] is _KEEP:
                    oid.append((b[1], rid))
                else:
                    full.append((b[0], b[1], b[2], b[3], data_text(b[4]), rid))
            if o.new is None:  # then there is no "after" either
                continue
            n, a = o.new, o.after
            rid, session, account, created = n[0], n[1], n[2], n[8]
            if a is None:
                upserts[_UPSERT_NONE].append(
                    (rid, session, account, n[3], n[4], n[5], n[6], data_text(n[7]), created))
            elif a[0] is _KEEP:
                # Inserted (if absent) with the order ID of the "L", or only the order ID updated.
                upserts[_UPSERT_OID].append(
                    (rid, session, account, n[3], a[1], n[5], n[6], data_text(n[7]), created))
            else:
                upserts[_UPSERT_FULL].append(
                    (rid, session, account, a[0], a[1], a[2], a[3], data_text(a[4]), created))
        if full:
            db.executemany(_UPDATE_FULL, full)
        if oid:
            db.executemany(_UPDATE_OID, oid)
        # One statement shape at a time changes the order of inserts only between shapes: rowids
        # of orders are never read (request_id is the key).
        for sql, rows in upserts.items():
            if rows:
                db.executemany(sql, rows)

    def _write_outbound(self, db: sqlite3.Connection) -> None:
        got = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbound'").fetchone()
        top = 0 if got is None else int(got[0])
        # A row with a seq above ``top`` was never written (AUTOINCREMENT keeps top >= every seq):
        # a delete or handed mark of it, left by the fold, has nothing to do.
        rows: list[list[Any]] = []
        handed: list[tuple[int]] = []
        gone: list[tuple[int]] = []
        for seq, v in self.outbound.items():
            if type(v) is list:
                rows.append(v)
            elif seq <= top:
                (handed if v == _HANDED else gone).append((seq,))
        if gone:
            db.executemany("DELETE FROM outbound WHERE seq = ?", gone)
        if handed:
            db.executemany("UPDATE outbound SET handed = 1 WHERE seq = ?", handed)
        if rows:
            db.executemany("INSERT OR REPLACE INTO outbound (seq, session, exec_id, handed, msg_type, "
                           "fields) VALUES (?, ?, ?, ?, ?, ?)",
                           [(q, s, e, h, m, data_text(f)) for q, s, e, h, m, f in rows])
        if self.top_inserted > top:
            # Rows inserted and gone within the batch were never written: their seqs still count.
            if got is None and not rows:
                db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbound', ?)",
                           (self.top_inserted,))
            else:
                db.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'outbound'",
                           (self.top_inserted,))


def apply_frames(db: sqlite3.Connection, frames: Sequence[tuple[int, bytes]]) -> int:
    """Apply the records above the database's mark, in one transaction; returns the new mark.
    The connection must be in autocommit mode (``isolation_level=None``)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        mark = applied_seq(db)
        net = NetEffect()
        add = net.add
        for seq, payload in frames:
            if seq > mark:
                add(decode_unit(payload))
                mark = seq
        net.write(db, midway=bool(frames))
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (APPLIED_KEY, str(mark)))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return mark
