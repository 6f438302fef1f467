"""A request with text that is not valid is answered with an error and the connection stays up.

Issue 9: a topic holding a lone surrogate (bytes 0xFF 0xFE of a FIX field, as escaped JSON) made
the simulator fail while answering and drop the connection, at every resubscription. Spec §1.10
(``Data.Deserialise``), §1.7.2 (a failed Sub: Error, then the Sub echo with the reason).
"""

from __future__ import annotations

import json

from .conftest import Raw, order

BAD = "XS02\udcff\udcfe"   # json.dumps writes it as "XS02\udcff\udcfe" escapes: valid UTF-8 on the wire


def _connections(sim) -> tuple[int, int]:
    """(connections open now, connections ever accepted)."""
    return sim.call_sync(lambda: (len(sim.server.sessions), sim.server._session_ids))


def test_sub_to_a_topic_that_is_not_text_fails_and_the_connection_stays(sim, client):
    c = client
    c.rpc("Market", "QueryMarkets")
    before = _connections(sim)
    topic = f"Security!{BAD}.XSX"
    c.send({"Controller": "Market", "Topic": topic, "Action": "Sub", "Confirm": True})
    error = c.recv()
    assert error == {"Controller": "Market", "Topic": topic, "Action": "Error", "Data": "Data.Deserialise"}
    echo = c.recv()
    assert echo == {"Controller": "Market", "Topic": topic, "Action": "Sub", "Data": "Data.Deserialise"}
    # Same connection, still served; nothing subscribed.
    assert c.rpc("Market", "QueryMarkets")["Data"][0]["Code"] == "XSX"
    assert c.sub("Market", "Security!XS02.XSX")["Data"]["Code"] == "XS02"
    # Unknown forms too: a failed Sub each, on the same connection.
    for other in ("Depth!", "Nope!XS01.XSX", "Security!XS01"):
        c.send({"Controller": "Market", "Topic": other, "Action": "Sub", "Confirm": True})
        c.expect(lambda m, t=other: m.get("Topic") == t and m.get("Action") == "Error")
        c.expect(lambda m, t=other: m.get("Topic") == t and m.get("Action") == "Sub")
    assert c.rpc("Market", "QueryMarkets")["Data"][0]["Code"] == "XSX"
    assert _connections(sim) == before
    assert not [k for k in sim.call_sync(lambda: list(sim.server.subs)) if "\udcff" in k[1]]


def test_action_with_a_value_that_is_not_text_is_answered_with_its_transaction(sim, client):
    c = client
    reply = c.rpc("Trading", "PlaceOrder", order(code=BAD))
    assert reply["Action"] == "Error" and reply["Data"] == "Data.Deserialise"
    assert sim.call_sync(lambda: len(sim.server.engine.orders)) == 0
    ok = c.rpc("Trading", "PlaceOrder", order(code="XS02", price="9.00"))
    assert ok["Data"]["Result"] == "Success"


def test_frame_that_is_not_utf8_never_drops_the_connection(sim, client):
    c = client
    before = _connections(sim)
    text = json.dumps({"Controller": "Market", "Topic": "QueryMarkets", "TransactionID": 77,
                       "Data": "__BAD__"}).encode()
    c.ws.send(text.replace(b"__BAD__", b"\xff\xfe"), text=True)
    reply = c.expect(lambda m: m.get("TransactionID") == 77)
    assert reply["Action"] == "Error" and reply["Data"] == "Data.Deserialise"
    # Without a TransactionID it cannot be answered: dropped, and the connection goes on.
    c.ws.send(b'{"Controller":"Market","Topic":"Depth!\xff.XSX","Action":"Sub"}', text=True)
    c.ws.send(b"\xff\xfe not even json", text=True)
    assert c.rpc("Market", "QueryMarkets")["Data"][0]["Code"] == "XSX"
    assert c.drain(0.2) == []
    assert _connections(sim) == before


def test_other_connections_are_not_affected(sim, client):
    other = Raw(sim.url, token="demo")
    try:
        other.sub("Market", "Depth!XS03.XSX")
        client.send({"Controller": "Market", "Topic": f"Depth!{BAD}.XSX", "Action": "Sub", "Confirm": True})
        client.expect(lambda m: m.get("Action") == "Error")
        assert other.rpc("Market", "QueryMarkets")["Data"][0]["Code"] == "XSX"
        assert sim.call_sync(sim.server.subscription_count, "Market", "Depth!XS03.XSX") == 1
    finally:
        other.close()
