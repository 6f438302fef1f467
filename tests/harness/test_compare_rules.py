"""Replay comparison rules on plain field lists (no sockets)."""

from __future__ import annotations

from decimal import Decimal

from gateway.harness.compare import CompareRules, IdMaps, all_matched, compare_fields, match_block

RULES = CompareRules()
MADE = RULES.client_ids
LEARNED = RULES.server_ids


def er(cl: str, oid: str, status: str, px: str = "10.10", exec_id: str = "E1") -> list[tuple[int, str]]:
    return [(35, "8"), (34, "9"), (52, "20260101-00:00:00"), (37, oid), (11, cl), (17, exec_id),
            (150, status), (39, status), (31, px)]


def test_volatile_tags_are_ignored_and_made_ids_map_back() -> None:
    ids = IdMaps(token="T")
    live = ids.make("ord-1")
    assert live == "T-1" and ids.make("ord-1") == "T-1" and ids.make("ord-2") == "T-2"
    received = er(live, "X9", "0", exec_id="ZZ")
    received[1] = (34, "77")
    assert compare_fields("8", er("ord-1", "O1", "0"), received, RULES, ids, bind=True,
                          made_tags=MADE, learned_tags=LEARNED) == []
    # ExecID(17) is learned (later messages may refer to it) but not compared
    assert ids.learned[37] == {"O1": "X9"} and ids.learned[17] == {"E1": "ZZ"}


def test_learned_ids_must_stay_consistent() -> None:
    ids = IdMaps()
    ids.learned[37] = {"O1": "X9"}
    diffs = compare_fields("8", er("c", "O1", "0"), er("c", "X8", "0"), RULES, ids, bind=True,
                           made_tags=MADE, learned_tags=LEARNED)
    assert [(d.tag, d.expected, d.received) for d in diffs] == [("37", "O1", "X8")]
    assert "O1 was X9 earlier" in diffs[0].note
    again = compare_fields("8", er("c", "O2", "0"), er("c", "X9", "0"), RULES, ids, bind=True,
                           made_tags=MADE, learned_tags=LEARNED)
    assert again and "already used" in again[0].note


def test_numbers_compare_as_decimals_with_tolerance() -> None:
    ids = IdMaps()
    plain = compare_fields("8", er("c", "O", "2", px="10.1"), er("c", "O", "2", px="10.10"), RULES, ids,
                           bind=False, made_tags=MADE, learned_tags=LEARNED)
    assert plain == []
    off = compare_fields("8", er("c", "O", "2", px="10.10"), er("c", "O", "2", px="10.11"), RULES, ids,
                         bind=False, made_tags=MADE, learned_tags=LEARNED)
    assert [d.tag for d in off] == ["31"]
    tolerant = CompareRules(tolerances={31: Decimal("0.01")})
    assert compare_fields("8", er("c", "O", "2", px="10.10"), er("c", "O", "2", px="10.11"), tolerant, ids,
                          bind=False, made_tags=MADE, learned_tags=LEARNED) == []


def test_missing_and_unrecorded_fields_and_group_occurrences() -> None:
    ids = IdMaps()
    exp = [(35, "W"), (268, "2"), (269, "0"), (270, "9.9"), (269, "1"), (270, "10.1")]
    got = [(35, "W"), (268, "2"), (269, "0"), (270, "9.9"), (269, "1"), (270, "10.2"), (58, "hi")]
    diffs = compare_fields("W", exp, got, RULES, ids, bind=False, made_tags=MADE, learned_tags=LEARNED)
    assert [(d.tag, d.expected, d.received, d.note) for d in diffs] == [
        ("270", "10.1", "10.2", ""), ("58", None, "hi", "not recorded")]


def test_match_block_pairs_any_order_and_reports_extras() -> None:
    ids = IdMaps()
    expected = [("8", er("a", "O1", "0")), ("8", er("a", "O1", "2"))]
    received = [("8", er("a", "X1", "2")), ("8", er("a", "X1", "0")), ("j", [(35, "j"), (58, "nope")])]
    pairs, extras = match_block(expected, received, RULES, ids, made_tags=frozenset(), learned_tags=LEARNED)
    assert [(e, r, d) for e, r, d in pairs] == [(0, 1, []), (1, 0, [])]
    assert extras == [2]
    strict = CompareRules(ordered=True)
    pairs, _ = match_block(expected, received[:2], strict, IdMaps(), made_tags=frozenset(),
                           learned_tags=LEARNED)
    assert any(d.tag == "order" for _, _, diffs in pairs for d in diffs)


def test_all_matched_waits_for_the_real_answer() -> None:
    ids = IdMaps()
    expected = [("8", er("a", "O1", "5"))]
    straggler = [("8", er("b", "O2", "2"))]
    assert not all_matched(expected, straggler, RULES, ids, made_tags=frozenset(), learned_tags=LEARNED)
    assert all_matched(expected, [*straggler, ("8", er("a", "X", "5"))], RULES, ids,
                       made_tags=frozenset(), learned_tags=LEARNED)
    assert ids.learned == {}                 # a dry run learns nothing
