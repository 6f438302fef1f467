"""The lifecycle tables: every row reachable through the lookup functions, and the generated page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.bridge.orders.lifecycle import (
    HOLD_TRANSITIONS,
    PENDING_TRANSITIONS,
    TERMINAL,
    TRANSITIONS,
    HoldEvent,
    HoldState,
    OrderState,
    PendingDo,
    PendingEvent,
    PendingKind,
    hold_move,
    is_terminal,
    markdown,
    next_state,
    pending_move,
    zenith_status_ends_order,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_ord_status_row_is_reachable() -> None:
    for (state, event), target in TRANSITIONS.items():
        assert next_state("o", state, event) is target


def test_terminal_is_derived_from_the_table() -> None:
    assert {OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED} == TERMINAL
    assert [s for s in OrderState if is_terminal(s)] == [s for s in OrderState if s in TERMINAL]


def test_zenith_statuses_that_end_an_order() -> None:
    assert all(zenith_status_ends_order(s) for s in ("Cancelled", "Canceled", "Expired", "Rejected"))
    assert not any(zenith_status_ends_order(s) for s in ("Suspended", "Working", "Filled", ""))


def test_every_pending_row_is_reachable() -> None:
    for (state, event), (after, do) in PENDING_TRANSITIONS.items():
        got = pending_move(state, event)  # type: ignore[arg-type]
        assert got is not None
        assert got[1] is do
        assert (got[0] is None) == (not isinstance(after, PendingKind))


def test_pending_acceptance_and_stale_events() -> None:
    for kind in PendingKind:
        assert pending_move(None, PendingEvent.ACCEPTED, kind) == (kind, PendingDo.CALL)
    # a second request while one is pending is not a move (refused before acceptance)
    assert pending_move(PendingKind.CANCEL, PendingEvent.ACCEPTED, PendingKind.REPLACE) is None
    # an answer for a request the feed settled already is stale
    assert pending_move(None, PendingEvent.ANSWER_SUCCESS) is None
    assert pending_move(None, PendingEvent.RETRY_DUE) is None
    # unknown outcome: never a reject, the same request again
    assert pending_move(PendingKind.REPLACE, PendingEvent.ANSWER_UNKNOWN) == (
        PendingKind.REPLACE, PendingDo.RETRY_LATER)
    cancel = PendingKind.CANCEL
    assert pending_move(cancel, PendingEvent.ANSWER_SUCCESS) == (cancel, PendingDo.NOTHING)


def test_every_hold_row_is_reachable_and_stale_ones_are_not() -> None:
    for (state, event), move in HOLD_TRANSITIONS.items():
        assert hold_move(state, event) == move
    assert hold_move(HoldState.NONE, HoldEvent.FILLS_COVER) is None
    assert hold_move(HoldState.NONE, HoldEvent.DEADLINE) is None


def test_pending_kind_values_are_the_stored_msg_types() -> None:
    assert [k.value for k in PendingKind] == ["F", "G"]


def test_committed_lifecycle_page_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "order-lifecycle.md").read_text(encoding="utf-8")
    assert committed == markdown(), "regenerate: python -m gateway.bridge.orders.lifecycle --markdown"


def test_generator_command_prints_the_page() -> None:
    out = subprocess.run([sys.executable, "-m", "gateway.bridge.orders.lifecycle", "--markdown"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == markdown()
