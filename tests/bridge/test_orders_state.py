"""The per-order state table and the throttle bucket."""

from __future__ import annotations

import pytest

from gateway.app.throttle import TokenBucket
from gateway.bridge.errors import InvalidTransition
from gateway.bridge.orders.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    OrderEvent,
    OrderState,
    next_state,
    transition_table,
)


def test_happy_path() -> None:
    s = OrderState.PENDING_NEW
    for event, expected in [
        (OrderEvent.ACCEPTED, OrderState.NEW),
        (OrderEvent.PARTIAL_FILL, OrderState.PARTIALLY_FILLED),
        (OrderEvent.REPLACED, OrderState.PARTIALLY_FILLED),
        (OrderEvent.PARTIAL_FILL, OrderState.PARTIALLY_FILLED),
        (OrderEvent.FILL, OrderState.FILLED),
    ]:
        s = next_state("o1", s, event)
        assert s is expected


def test_terminal_states_have_no_moves() -> None:
    for state, _event in TRANSITIONS:
        assert state not in TERMINAL
    for state in TERMINAL:
        for event in OrderEvent:
            with pytest.raises(InvalidTransition):
                next_state("o1", state, event)


def test_bad_move_names_order_state_and_event() -> None:
    with pytest.raises(InvalidTransition) as err:
        next_state("ord-42", OrderState.FILLED, OrderEvent.CANCELED)
    assert (err.value.order, err.value.state, err.value.event) == ("ord-42", "FILLED", "CANCELED")
    assert "ord-42" in str(err.value) and "FILLED" in str(err.value) and "CANCELED" in str(err.value)


def test_every_working_state_can_end() -> None:
    for state in (OrderState.PENDING_NEW, OrderState.NEW, OrderState.PARTIALLY_FILLED, OrderState.SUSPENDED):
        assert next_state("o", state, OrderEvent.CANCELED) is OrderState.CANCELED
        assert next_state("o", state, OrderEvent.EXPIRED) is OrderState.EXPIRED


def test_replace_not_allowed_before_acceptance_or_while_suspended() -> None:
    for state in (OrderState.PENDING_NEW, OrderState.SUSPENDED):
        with pytest.raises(InvalidTransition):
            next_state("o", state, OrderEvent.REPLACED)


def test_suspension_resumes_by_fill_state() -> None:
    assert next_state("o", OrderState.NEW, OrderEvent.SUSPENDED) is OrderState.SUSPENDED
    assert next_state("o", OrderState.SUSPENDED, OrderEvent.RESUMED) is OrderState.NEW
    assert next_state("o", OrderState.SUSPENDED, OrderEvent.RESUMED_PARTIAL) is OrderState.PARTIALLY_FILLED


def test_states_are_ord_status_wire_values() -> None:
    assert {s.value for s in OrderState} == {"A", "0", "1", "2", "4", "8", "9", "C"}


def test_token_bucket_rate_with_time_passed_in() -> None:
    bucket = TokenBucket(5)
    assert [bucket.allow(100.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.allow(100.1) is False  # 0.5 token refilled
    assert bucket.allow(100.2) is True  # 1 token after 0.2 s at 5/s
    assert bucket.allow(100.2) is False
    assert sum(bucket.allow(200.0) for _ in range(10)) == 5  # capacity caps the refill


def test_token_bucket_ignores_time_going_back() -> None:
    bucket = TokenBucket(1)
    assert bucket.allow(10.0)
    assert not bucket.allow(5.0)
    assert bucket.allow(11.0)


def test_transition_table_renders_every_move() -> None:
    text = transition_table()
    rows = {line.split(" | ")[0].lstrip("| ").split(" ")[0]: line for line in text.splitlines()[2:]}
    assert set(rows) == {s.name for s in OrderState}
    assert sum(line.count(" | ") for line in rows.values()) == len(OrderState) * len(OrderEvent)
    for (state, _event), target in TRANSITIONS.items():
        assert target.name in rows[state.name]
    assert rows["FILLED"].replace("|", "").split()[2:] == []       # terminal: no moves
