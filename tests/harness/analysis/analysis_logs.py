"""Logs with known answers for the log-analysis tests, written as QuickFIX C++ message logs.

Each builder returns the path it wrote; the module-level constants are the answers the tests check.
Times are explicit so latencies and heartbeat intervals are known exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.harness.codec import encode

T0 = datetime(2024, 1, 2, 10, 0, 0, tzinfo=UTC)


def stamp(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


class LogBuilder:
    """Messages of one session (``client`` <-> ``server``), numbered per side, timed by the caller."""

    def __init__(self, begin: str = "FIX.4.4", client: str = "CLIENT1", server: str = "PLXTRA") -> None:
        self.begin = begin
        self.client = client
        self.server = server
        self.seq = {client: 0, server: 0}
        self.lines: list[bytes] = []
        self.messages: list[bytes] = []  # raw messages in order (for captures)
        self.senders: list[str] = []
        self.times: list[float] = []  # seconds after T0, per message

    def send(
        self,
        sender: str,
        at: float,
        msg_type: str,
        *pairs: tuple[int, object],
        seq: int | None = None,
        poss_dup: bool = False,
        poss_resend: bool = False,
    ) -> bytes:
        target = self.server if sender == self.client else self.client
        if seq is None:
            self.seq[sender] += 1
            seq = self.seq[sender]
        head: list[tuple[int, object]] = [(35, msg_type), (34, seq)]
        if poss_dup:
            head.append((43, "Y"))
        head += [(49, sender), (52, stamp(at)), (56, target)]
        if poss_dup:
            head.append((122, stamp(at - 1)))
        if poss_resend:
            head.append((97, "Y"))
        raw = encode(self.begin, [*head, *pairs])
        self.lines.append(stamp(at).encode() + b" : " + raw + b"\n")
        self.messages.append(raw)
        self.senders.append(sender)
        self.times.append(at)
        return raw

    def c(self, at: float, msg_type: str, *pairs: tuple[int, object], **kw: object) -> bytes:
        return self.send(self.client, at, msg_type, *pairs, **kw)  # type: ignore[arg-type]

    def s(self, at: float, msg_type: str, *pairs: tuple[int, object], **kw: object) -> bytes:
        return self.send(self.server, at, msg_type, *pairs, **kw)  # type: ignore[arg-type]

    def logon(self, at: float, heartbeat: int = 30) -> None:
        self.c(at, "A", (98, 0), (108, heartbeat))
        self.s(at + 0.001, "A", (98, 0), (108, heartbeat))

    def write(self, path: Path) -> Path:
        path.write_bytes(b"".join(self.lines))
        return path


def er(
    b: LogBuilder,
    at: float,
    cl: str,
    order_id: str,
    exec_id: str,
    exec_type: str,
    status: str,
    qty: int,
    cum: int,
    leaves: int,
    *extra: tuple[int, object],
    last: tuple[int, str] | None = None,
    symbol: str = "XS01",
    side: str = "1",
    price: str = "10.00",
    **kw: object,
) -> bytes:
    pairs: list[tuple[int, object]] = [
        (37, order_id),
        (11, cl),
        (17, exec_id),
        (150, exec_type),
        (39, status),
        (55, symbol),
        (54, side),
        (38, qty),
        (44, price),
    ]
    if last is not None:
        pairs += [(32, last[0]), (31, last[1])]
    pairs += [(151, leaves), (14, cum), *extra]
    return b.s(at, "8", *pairs, **kw)


def new_order(
    b: LogBuilder, at: float, cl: str, qty: int, price: str = "10.00", symbol: str = "XS01", side: str = "1"
) -> bytes:
    return b.c(
        at,
        "D",
        (11, cl),
        (1, "XS:0001"),
        (55, symbol),
        (207, "XSX"),
        (54, side),
        (38, qty),
        (40, "2"),
        (44, price),
        (59, "0"),
        (60, stamp(at)),
    )


# -- orders ----------------------------------------------------------------------------------------------
# ord-1: two replaces and three partial fills; avg (100*10.00 + 100*10.05 + 300*10.10) / 500 = 10.07
ORD1_AVG = "10.07"
# D -> ER New latencies written below: ord-1 5 ms, ord-4 3 ms, ord-6 2 ms, ord-7 4 ms, ord-8 1 ms
NEW_LATENCIES_MS = (5, 3, 2, 4, 1)


def build_orders(b: LogBuilder, *, variant: str = "a") -> LogBuilder:
    """Variant "b" is the same flow recorded elsewhere: other ClOrdIDs (R-n), OrderIDs (Q) and ExecIDs
    (X), ord-1's last fill at 10.11 instead of 10.10, ord-7 rejected with another Text, no ord-8."""
    other = variant == "b"

    def i(value: str) -> str:
        if not other:
            return value
        if value.startswith("ord-"):
            return "R-" + value[4:]
        return {"O": "Q", "E": "X"}.get(value[0], value[0]) + value[1:] if value != "NONE" else value

    b.logon(0)
    # ord-1: New, fill, replace, fill, replace, fill to Filled
    new_order(b, 1.000, i("ord-1"), 300)
    er(b, 1.005, i("ord-1"), i("O1"), i("E1"), "0", "0", 300, 0, 300)
    er(b, 2.000, i("ord-1"), i("O1"), i("E2"), "F", "1", 300, 100, 200, last=(100, "10.00"))
    b.c(
        3.000,
        "G",
        (11, i("ord-2")),
        (41, i("ord-1")),
        (37, i("O1")),
        (55, "XS01"),
        (54, "1"),
        (38, 400),
        (40, "2"),
        (44, "10.05"),
        (60, stamp(3)),
    )
    er(b, 3.010, i("ord-2"), i("O1"), i("E3"), "5", "1", 400, 100, 300, (41, i("ord-1")), price="10.05")
    er(b, 4.000, i("ord-2"), i("O1"), i("E4"), "F", "1", 400, 200, 200, last=(100, "10.05"), price="10.05")
    b.c(
        5.000,
        "G",
        (11, i("ord-3")),
        (41, i("ord-2")),
        (37, i("O1")),
        (55, "XS01"),
        (54, "1"),
        (38, 500),
        (40, "2"),
        (44, "10.10"),
        (60, stamp(5)),
    )
    er(b, 5.020, i("ord-3"), i("O1"), i("E5"), "5", "1", 500, 200, 300, (41, i("ord-2")), price="10.10")
    er(
        b,
        6.000,
        i("ord-3"),
        i("O1"),
        i("E6"),
        "F",
        "2",
        500,
        500,
        0,
        last=(300, "10.11" if other else "10.10"),
        price="10.10",
    )
    # ord-4: canceled, then a fill arrives after the cancel
    new_order(b, 7.000, i("ord-4"), 200, symbol="XS02", side="2")
    er(b, 7.003, i("ord-4"), i("O4"), i("E7"), "0", "0", 200, 0, 200, symbol="XS02", side="2")
    b.c(
        8.000,
        "F",
        (11, i("ord-5")),
        (41, i("ord-4")),
        (37, i("O4")),
        (55, "XS02"),
        (54, "2"),
        (38, 200),
        (60, stamp(8)),
    )
    er(b, 8.007, i("ord-5"), i("O4"), i("E8"), "4", "4", 200, 0, 0, (41, i("ord-4")), symbol="XS02", side="2")
    er(
        b,
        9.000,
        i("ord-5"),
        i("O4"),
        i("E9"),
        "F",
        "4",
        200,
        50,
        0,
        last=(50, "9.90"),
        symbol="XS02",
        side="2",
    )
    # ord-6: duplicate ExecID without PossResend, a PossResend repeat (fine), CumQty going down
    new_order(b, 10.000, i("ord-6"), 100)
    er(b, 10.002, i("ord-6"), i("O6"), i("E10"), "0", "0", 100, 0, 100)
    er(b, 11.000, i("ord-6"), i("O6"), i("E11"), "F", "1", 100, 60, 40, last=(60, "10.00"))
    er(b, 11.500, i("ord-6"), i("O6"), i("E11"), "F", "1", 100, 60, 40, last=(60, "10.00"), poss_resend=True)
    er(b, 12.000, i("ord-6"), i("O6"), i("E11"), "F", "1", 100, 60, 40, last=(60, "10.00"))
    er(b, 13.000, i("ord-6"), i("O6"), i("E12"), "0", "1", 100, 50, 50)
    # ord-7: rejected with a reason
    new_order(b, 14.000, i("ord-7"), 1_000_000)
    er(
        b,
        14.004,
        i("ord-7"),
        "NONE",
        i("E13"),
        "8",
        "8",
        1_000_000,
        0,
        0,
        (103, "3"),
        (58, "Limit exceeded" if other else "Order exceeds limit"),
    )
    if not other:  # ord-8: LeavesQty + CumQty != OrderQty
        new_order(b, 15.000, i("ord-8"), 100)
        er(b, 15.001, i("ord-8"), i("O8"), i("E14"), "0", "0", 100, 0, 90)
    # an answer to a ClOrdID nobody sent
    er(b, 16.000, "ghost-1", i("O99"), i("E15"), "0", "0", 100, 0, 100)
    return b


def orders_log(path: Path, variant: str = "a") -> Path:
    return build_orders(LogBuilder(), variant=variant).write(path)


# -- session health ---------------------------------------------------------------------------------------
def build_session(b: LogBuilder) -> LogBuilder:
    """Known answers (PLXTRA is the server, CLIENT1 the client):

    - PLXTRA jumps 3 -> 7 (gap 4..6); CLIENT1 asks 4..6 back; PLXTRA fills it with GapFill 4..6.
    - PLXTRA jumps 8 -> 11 (gap 9..10); CLIENT1 sends 3 ResendRequests within 4 s (a storm);
      PLXTRA resends 9 and 10 with PossDupFlag=Y.
    - CLIENT1 TestRequest T0 answered after 0.25 s; TestRequest T1 never answered, CLIENT1 logs out.
    - PLXTRA rejects CLIENT1's message 5 (session Reject, SessionRejectReason 1).
    - CLIENT1 heartbeats every 30 s on the dot, one 45 s late; HeartBtInt 30.
    """
    b.logon(0)
    b.s(1, "0")  # PLXTRA 2
    b.s(2, "0")  # 3
    b.seq[b.server] = 6
    b.s(3, "0")  # 7: gap 4..6
    b.c(3.1, "2", (7, 4), (16, 6))  # CLIENT1 2
    b.s(3.2, "4", (123, "Y"), (36, 7), seq=4, poss_dup=True)
    b.s(4, "0")  # 8
    b.seq[b.server] = 10
    b.s(5, "0")  # 11: gap 9..10
    b.c(5.1, "2", (7, 9), (16, 10))  # CLIENT1 3
    b.c(6.1, "2", (7, 9), (16, 10))  # 4
    b.c(8.1, "2", (7, 9), (16, 0))  # 5: third within 3 s -> storm
    b.s(8.2, "0", seq=9, poss_dup=True)
    b.s(8.3, "0", seq=10, poss_dup=True)
    b.s(9, "3", (45, 5), (373, 1), (58, "Required tag missing"))  # 12
    b.c(30, "0")  # 6: heartbeat after 21.9 s silence
    b.c(60, "0")  # 7: 30 s
    b.c(105, "0")  # 8: 45 s: late
    b.c(106, "1", (112, "T0"))  # 9
    b.s(106.25, "0", (112, "T0"))  # 13: answer after 0.25 s
    b.c(107, "1", (112, "T1"))  # 10: never answered
    b.s(120, "0")  # 14
    b.c(150, "5", (58, "TestRequest T1 not answered"))  # 11
    b.s(150.5, "5", (58, "Logout acknowledged"))  # 15
    return b


def session_log(path: Path) -> Path:
    return build_session(LogBuilder()).write(path)


# -- the sample log of the decode tests -----------------------------------------------------------------
def decode_sample_log(tmp_path: Path) -> Path:
    """The QuickFIX log that tests/harness/test_decode_cli.py builds (its ``log`` fixture), reused
    as it is: Logon, ord-1 filled, ord-2 unanswered, a Heartbeat, another session's order."""
    import importlib.util

    source = Path(__file__).resolve().parents[1] / "test_decode_cli.py"
    spec = importlib.util.spec_from_file_location("_decode_cli_sample", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.log.__wrapped__(tmp_path)  # type: ignore[no-any-return]


if __name__ == "__main__":  # the README's samples: python tests/harness/analysis/analysis_logs.py DIR
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    for written in (
        orders_log(out / "orders.log"),
        orders_log(out / "orders-b.log", variant="b"),
        session_log(out / "session.log"),
    ):
        print(written)
