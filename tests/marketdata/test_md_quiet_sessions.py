"""persist_messages / log_messages: false, for market-data-only sessions only.

Such a session's sent messages are not kept by QuickFIX (PersistMessages=N), so a partner's
ResendRequest is answered with SequenceReset-GapFill; a trading session may not say so, because
its ExecutionReports must be resent. Checked through check-config and over a real session.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.config import ConfigError, load_config
from tests.acceptance.rawfix import RawFix
from tests.marketdata.mdhelpers import Market, wait_until

MD_ONLY = """\
  - name: quotes
    begin_string: FIX.4.4
    sender_comp_id: PLXTRA
    target_comp_id: QUOTES
    trading: false
    persist_messages: false
    log_messages: false
  - name: trader
    begin_string: FIX.4.4
    sender_comp_id: PLXTRA
    target_comp_id: TRADER
    accounts: ["0001"]
"""


def _write(tmp_path: Path, sessions: str) -> Path:
    path = tmp_path / "gateway.yaml"
    text = "gateway:\n  listen_port: 9990\nsessions:\n" + textwrap.dedent(sessions)
    path.write_text(text, encoding="utf-8")
    return path


def _sections(settings_text: str) -> dict[str, list[str]]:
    """QuickFIX settings lines per session (TargetCompID), [DEFAULT] under 'DEFAULT'."""
    out: dict[str, list[str]] = {}
    current: list[str] = []
    for line in settings_text.splitlines():
        if line in ("[DEFAULT]", "[SESSION]"):
            current = []
            out["DEFAULT" if line == "[DEFAULT]" else f"#{len(out)}"] = current
        elif line.startswith("TargetCompID="):
            out[line.split("=", 1)[1]] = current
            current.append(line)
        else:
            current.append(line)
    return out


def test_persist_messages_false_gives_persist_messages_n_in_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(_write(tmp_path, MD_ONLY))]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    sections = _sections(out)
    assert "PersistMessages=Y" in sections["DEFAULT"]
    assert "PersistMessages=N" in sections["QUOTES"]
    assert not any(line.startswith("PersistMessages") for line in sections["TRADER"])  # the default: Y
    config = load_config(tmp_path / "gateway.yaml")
    quotes, trader = config.sessions
    assert (quotes.market_data_only, quotes.persist_messages, quotes.log_messages) == (True, False, False)
    assert (trader.market_data_only, trader.persist_messages, trader.log_messages) == (False, True, True)


@pytest.mark.parametrize("flag", ["persist_messages", "log_messages"])
def test_a_trading_session_may_not_skip_its_store_or_log(tmp_path: Path, flag: str) -> None:
    path = _write(tmp_path, f"""\
      - name: trader
        begin_string: FIX.4.4
        sender_comp_id: PLXTRA
        target_comp_id: TRADER
        accounts: ["0001"]
        {flag}: false
    """)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (error,) = info.value.errors
    assert error.key == f"sessions[0].{flag}" and error.line == 9
    assert "market-data-only" in str(error) and "trading: false" in str(error)


def _v(req_id: str) -> list[tuple[int, str]]:
    return [(262, req_id), (263, "1"), (264, "0"), (265, "1"), (266, "Y"), (267, "2"), (269, "0"),
            (269, "1"), (146, "1"), (55, "XS01"), (207, "XSX")]


def _subscribe_then_resend(port: int, target: str) -> list[Any]:
    """Log on, take the snapshot, then ask for everything again (ResendRequest 7=1, 16=0)."""
    with RawFix(port, "FIX.4.4", target, "PLXTRA") as c:
        c.logon()
        c.send("V", _v("r"))
        w = c.expect("W", timeout=10, where={262: "r"})
        assert w[34] == "2"
        c.send("2", [(7, "1"), (16, "0")])
        answers = []
        for _ in range(5):   # what QuickFIX answers comes at once: stop at the first quiet second
            m = c.next(timeout=1)
            if m is None:
                break
            if m.msg_type != "0":
                answers.append(m)
        return answers


def test_resend_request_on_unpersisted_session_is_answered_with_gap_fill(
    market: Market, gateway_factory: Any
) -> None:
    base = {"begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA", "trading": False, "markets": ["XSX"]}
    gw = gateway_factory(sessions=[
        {**base, "name": "quotes", "target_comp_id": "QUOTES", "persist_messages": False},
        {**base, "name": "kept", "target_comp_id": "KEPT"},
    ])
    # Not persisted: the Logon and the W (seq 1..2) are covered by one SequenceReset-GapFill.
    answers = _subscribe_then_resend(gw.port, "QUOTES")
    assert [m.msg_type for m in answers] == ["4"], answers
    gap_fill = answers[0]
    assert gap_fill[123] == "Y" and gap_fill[36] == "3" and gap_fill[43] == "Y"
    # Persisted (the default), same flow: only the Logon is gap-filled, the W comes again as a
    # PossDup copy.
    answers = _subscribe_then_resend(gw.port, "KEPT")
    assert [m.msg_type for m in answers] == ["4", "W"], answers
    assert answers[0][36] == "2"
    assert (answers[1][34], answers[1][43], answers[1][262]) == ("2", "Y", "r")


def _log_text(directory: Path, target: str, kind: str) -> str:
    path = directory / f"FIX.4.4-PLXTRA-{target}.{kind}.current.log"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _quiet_and_kept(gateway_factory: Any) -> Any:
    """A gateway with two market-data sessions alike but for ``log_messages``: QUOTES (false),
    KEPT (default)."""
    base = {"begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA", "trading": False, "markets": ["XSX"]}
    return gateway_factory(sessions=[
        {**base, "name": "quotes", "target_comp_id": "QUOTES", "log_messages": False},
        {**base, "name": "kept", "target_comp_id": "KEPT"},
    ])


def test_log_messages_false_writes_no_message_lines_but_keeps_the_session_events(
    market: Market, gateway_factory: Any, tmp_path: Path
) -> None:
    gw = _quiet_and_kept(gateway_factory)
    for target in ("QUOTES", "KEPT"):
        with RawFix(gw.port, "FIX.4.4", target, "PLXTRA") as c:
            c.logon()
            c.send("V", _v("r"))
            c.expect("W", timeout=10, where={262: "r"})
    logs = tmp_path / "gw0" / "fixlog"
    wait_until(lambda: "35=W" in _log_text(logs, "KEPT", "messages"), 10, "KEPT's W in its message log")
    assert "35=A" in _log_text(logs, "KEPT", "messages")
    quiet = _log_text(logs, "QUOTES", "messages")
    assert "35=" not in quiet, quiet   # neither the Logon nor the W
    assert _log_text(logs, "QUOTES", "event").strip()   # QuickFIX's session events are still written


def _out_counts(metrics: Any, session: str) -> dict[str, float]:
    """The messages-out metric of ``session`` by MsgType, as the admin API's scrape shows it."""
    from prometheus_client import generate_latest

    found: dict[str, float] = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith("plxtra_fix_messages_total{") and 'direction="out"' in line \
                and f'session="{session}"' in line:
            msg_type = line.split('msg_type="', 1)[1].split('"', 1)[0]
            found[msg_type] = float(line.rsplit(" ", 1)[1])
    return found


def test_a_quiet_sessions_messages_out_are_counted_like_a_logged_ones(
    market: Market, gateway_factory: Any
) -> None:
    # The quiet session's QuickFIX log hands each sent message straight to the watch's function
    # (SessionWatch.outgoing_for, called by the SWIG director); the other one through
    # onOutgoing and SessionWatch.outgoing. Same traffic, same figures.
    gw = _quiet_and_kept(gateway_factory)
    for target in ("QUOTES", "KEPT"):
        with RawFix(gw.port, "FIX.4.4", target, "PLXTRA") as c:
            c.logon()
            c.send("V", _v("r"))
            c.expect("W", timeout=10, where={262: "r"})
            c.send("V", _v("r"))   # a duplicate MDReqID: refused with a Y
            c.expect("Y", timeout=10, where={262: "r"})
            c.send("1", [(112, "probe")])   # answered with a Heartbeat
            c.expect("0", timeout=10, where={112: "probe"})
    ops = gw.gateway.ops
    wait_until(lambda: _out_counts(ops.metrics, "kept").get("0") == 1.0, 10, "KEPT's heartbeat counted")
    quiet, kept = _out_counts(ops.metrics, "quotes"), _out_counts(ops.metrics, "kept")
    assert quiet == kept
    assert quiet["A"] == 1.0 and quiet["W"] >= 1.0 and quiet["Y"] == 1.0 and quiet["0"] == 1.0
    # The quiet session's counts did come through the short path (its per-MsgType cache).
    assert {"W", "0"} <= set(ops.watch._fast_out["FIX.4.4:PLXTRA->QUOTES"])
    assert "FIX.4.4:PLXTRA->KEPT" not in ops.watch._fast_out
    info = ops.watch.info("quotes")
    assert info.logons == 1 and info.last_out is not None and info.last_out_type is not None
