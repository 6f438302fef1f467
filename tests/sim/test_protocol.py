"""Wire conformance of the simulator (spec §1, §2, §6.1, §8 items 1-19), raw JSON over a real WebSocket."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from gateway.sim.testing import run_sim_in_thread

from .conftest import Raw, quiet_config


def test_container_output_rules_and_auth_token(sim):
    c = Raw(sim.url)
    r = c.rpc("Auth", "AuthToken", {"Provider": "Bearer", "AccessToken": "demo"})
    assert (
        r["Controller"] == "Auth" and r["Topic"] == "AuthToken" and "Action" not in r and "Confirm" not in r
    )
    d = r["Data"]
    assert d["Result"] == "Success" and d["AccessToken"] == "demo" and d["DisplayName"] == "XospAdmin"
    assert set(d["Scope"]) == {"Zenith/Market", "Zenith/Trading", "Zenith/OrderPad", "Zenith/News"}
    assert d["ExpiresIn"].startswith("00:59:") and "ExpiryDate" in d and d["UserID"]
    q = c.rpc("Auth", "QueryIdentify")
    assert q["Topic"] == "QueryIdentify" and q["Data"]["Result"] == "Success"
    c.close()


def test_unauthenticated_gets_authority_but_public_topics_work(sim):
    c = Raw(sim.url)
    r = c.rpc("Market", "QueryMarkets")
    assert r["Action"] == "Error" and r["Data"] == "Authority" and r["TransactionID"] == 1
    c.send({"Controller": "Market", "Topic": "Depth!XS01.XSX", "Action": "Sub", "Confirm": True})
    assert c.recv()["Data"] == "Authority"
    failed = c.recv()
    assert failed == {"Controller": "Market", "Topic": "Depth!XS01.XSX", "Action": "Sub", "Data": "Authority"}
    info = c.sub("Zenith", "ServerInfo")
    assert info["Data"] == {
        "Name": "plxtra-sim",
        "Class": "FeedProxy",
        "Version": "0.1.0.0",
        "Protocol": "2.0",
    }
    feeds = c.sub("Zenith", "Feeds")["Data"]
    assert {f["Name"] for f in feeds} == {"TradingAuthority", "XSX", "OMS"}
    conf = c.rpc("Trading", "Configure", {"ActionTimeout": "00:01:00"})
    assert conf == {"Controller": "Trading", "Topic": "Configure", "TransactionID": 2}
    q = c.rpc("Trading", "QueryConfigure")
    assert q["Data"] == {"ActionTimeout": "00:01:00", "SubscriptionTimeout": "00:00:35"}
    c.close()


def test_auth_owner_and_rejections(sim):
    c = Raw(sim.url)
    bad = c.rpc(
        "Auth",
        "AuthOwner",
        {"Provider": "Bearer", "ClientID": "x", "UserName": "XospAdmin", "Password": "nope"},
    )
    assert bad["Data"] == {"Result": "Reject"}
    ok = c.rpc(
        "Auth",
        "AuthOwner",
        {"Provider": "Bearer", "ClientID": "x", "Username": "XospAdmin", "Password": "xosp"},
    )
    assert ok["Data"]["Result"] == "Success"
    token = ok["Data"]["AccessToken"]
    rej = c.rpc("Auth", "AuthToken", {"Provider": "Bearer", "AccessToken": "reject"})
    assert rej["Data"] == {"Result": "Reject"}
    c.close()
    c2 = Raw(sim.url, token=token)  # the issued token restores a session
    assert c2.rpc("Market", "QueryMarkets")["Data"][0]["Code"] == "XSX"
    c2.close()


def test_handshake_bearer_token(sim):
    with pytest.raises(InvalidStatus) as info:
        Raw(sim.url, token="reject")
    assert info.value.response.status_code == 403
    c = Raw(sim.url, token="demo")
    markets = c.rpc("Market", "QueryMarkets")["Data"]
    assert markets[0]["Code"] == "XSX" and markets[0]["States"] == [{"Name": "XSX::XSX", "Status": "Open"}]
    c.close()


def test_expired_token_then_refresh_resumes_with_snapshot(sim):
    c = Raw(sim.url, token="expired")
    assert c.rpc("Market", "QueryMarkets")["Data"] == "Authority"
    c.rpc("Auth", "AuthToken", {"Provider": "Bearer", "AccessToken": "demo"})
    c.sub("Market", "Depth!XS01.XSX")
    c.close()


def test_token_expiry_stops_publishes_and_refresh_sends_fresh_snapshot(tmp_path):
    with run_sim_in_thread(quiet_config(tmp_path, token_lifetime=1.0)) as h:
        c = Raw(h.url, token="demo")
        c.sub("Market", "Depth!XS02.XSX")
        time.sleep(1.2)
        assert c.rpc("Market", "QueryMarkets")["Data"] == "Authority"
        p = Raw(h.url, token="demo")
        p.rpc(
            "Trading",
            "PlaceOrder",
            {
                "Account": "XS:0002",
                "Details": {
                    "Exchange": "XSX",
                    "Code": "XS02",
                    "Side": "Bid",
                    "Style": "Market",
                    "Type": "Limit",
                    "LimitPrice": 9,
                    "Quantity": 10,
                    "Validity": "UntilDay",
                },
                "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
            },
        )
        assert not [m for m in c.drain(0.3) if m.get("Topic") == "Depth!XS02.XSX"]
        c.rpc("Auth", "AuthToken", {"Provider": "Bearer", "AccessToken": "demo"})
        snap = c.publishes("Depth!XS02.XSX")
        assert snap["Data"][0] == {"O": "C"} and len(snap["Data"]) == 2
        c.close()
        p.close()


def test_errors_unknown_controller_topic_action_data(client):
    c = client
    r = c.rpc("Nope", "Thing")
    assert r["Action"] == "Error" and r["Data"] == "Controller Nope" and r["TransactionID"] == 1
    r = c.rpc("Market", "QueryNothing")
    assert r["Data"] == "Operation.Unknown"
    r = c.rpc("Market", "QuerySecurity")
    assert r["Data"] == "Data"
    r = c.rpc("Market", "QuerySecurity", "XS01")
    assert r["Data"] == "Data.Deserialise"
    r = c.rpc("Trading", "QueryOrders", {"Account": 5})
    assert r["Data"] == "Data.Deserialise"
    r = c.rpc("Market", "QuerySecurity", {"Market": "XSX", "Code": "NOPE"})
    assert r["Data"] == "Symbol.NotFound NOPE.XSX"
    r = c.rpc("Market", "QuerySecurity", {"Market": "ZZZ", "Code": "XS01"})
    assert r["Data"] == "Market.NotFound ZZZ"
    c.send({"Controller": "Market", "Topic": "QueryMarkets", "Action": "Bogus", "TransactionID": 99})
    assert c.expect(lambda m: m.get("TransactionID") == 99)["Data"] == "Operation.Unknown"
    c.send({"Controller": "Market", "Topic": "Bogus!X", "Action": "Sub", "Confirm": True})
    assert c.recv()["Data"] == "Operation.Unknown"
    assert c.recv() == {
        "Controller": "Market",
        "Topic": "Bogus!X",
        "Action": "Sub",
        "Data": "Operation.Unknown",
    }
    c.send({"Controller": "Market", "Topic": "Depth!NOPE.XSX", "Action": "Sub"})
    assert c.recv() == {
        "Controller": "Market",
        "Topic": "Depth!NOPE.XSX",
        "Action": "Error",
        "Data": "Symbol.NotFound NOPE.XSX",
    }


def test_query_topic_subscription_and_no_result(client):
    c = client
    c.send({"Controller": "Market", "Topic": "QueryMarkets"})
    assert c.recv() == {
        "Controller": "Market",
        "Topic": "QueryMarkets",
        "Action": "Error",
        "Data": "Operation.NoResult",
    }
    c.send({"Controller": "Market", "Topic": "QueryMarkets", "Action": "Sub", "Confirm": True})
    assert c.recv()["Confirm"] is True
    c.send({"Controller": "Market", "Topic": "QueryMarkets"})
    r = c.recv()
    assert r["Topic"] == "QueryMarkets" and "TransactionID" not in r and r["Data"][0]["Code"] == "XSX"


def test_reference_counting(sim, client):
    c = client
    topic = "Security!XS03.XSX"
    snap = c.sub("Market", topic)
    assert snap["Data"]["Code"] == "XS03" and snap["Data"]["Name"] == "Default Security XS03"
    c.send({"Controller": "Market", "Topic": topic, "Action": "Sub", "Confirm": True})
    assert c.recv() == {
        "Controller": "Market",
        "Topic": topic,
        "Action": "Sub",
        "Confirm": True,
    }  # no 2nd snapshot
    assert sim.call_sync(sim.server.subscription_count, "Market", topic) == 1
    c.send({"Controller": "Market", "Topic": topic, "Action": "Unsub", "Confirm": True})
    assert c.recv() == {"Controller": "Market", "Topic": topic, "Action": "Unsub"}
    assert sim.call_sync(sim.server.subscription_count, "Market", topic) == 1
    c.send({"Controller": "Market", "Topic": topic, "Action": "Unsub"})
    c.rpc("Market", "QueryMarkets")  # ordering barrier
    assert sim.call_sync(sim.server.subscription_count, "Market", topic) == 0


def test_malformed_frames_close_only_that_connection(sim, client):
    other = client
    for bad in ("{not json", "[1,2,3]"):
        c = Raw(sim.url, token="demo")
        c.send(bad)
        with pytest.raises(ConnectionClosed) as info:
            c.recv()
        assert info.value.rcvd.code == 1007
    big = Raw(sim.url, token="demo")
    big.send(json.dumps({"Controller": "Market", "Topic": "QueryMarkets", "Data": "x" * (1 << 20)}))
    with pytest.raises(ConnectionClosed) as info:
        big.recv()
    assert info.value.rcvd.code == 1009
    assert other.rpc("Market", "QueryMarkets")["Data"][0]["Code"] == "XSX"


def test_subprotocols(sim):
    with connect(sim.url, open_timeout=5) as ws:  # no header: JSON
        ws.send(json.dumps({"Controller": "Zenith", "Topic": "ServerInfo", "Action": "Sub"}))
        assert json.loads(ws.recv(timeout=5))["Data"]["Protocol"] == "2.0"
    with pytest.raises(InvalidStatus) as info:
        connect(sim.url, subprotocols=["ZenithBson", "ZenithMsgPack"], open_timeout=5)  # type: ignore[list-item]
    assert info.value.response.status_code == 400
    assert b"ZenithJson" in info.value.response.body
    with connect(sim.url.replace("/Zenith", "/zenith"), subprotocols=["ZenithJson"], open_timeout=5) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ZenithJson"


def test_response_delay_and_cancel(sim, client):
    c = client
    sim.server.set_response_delay(0.3)
    try:
        c.send({"Controller": "Market", "Topic": "QueryMarkets", "TransactionID": 50})
        c.send({"Controller": "Market", "Topic": "QueryMarkets", "Action": "Cancel", "TransactionID": 50})
        c.send({"Controller": "Market", "Topic": "QueryMarkets", "TransactionID": 51})
        t0 = time.monotonic()
        r = c.recv()
        assert r["TransactionID"] == 51 and time.monotonic() - t0 >= 0.2
        assert c.drain(0.4) == []
    finally:
        sim.server.set_response_delay(0)


def test_idle_timeout_closes_1008(tmp_path):
    with run_sim_in_thread(quiet_config(tmp_path, idle_timeout=0.6, ping_interval=0)) as h:
        c = Raw(h.url, token="demo")
        with pytest.raises(ConnectionClosed) as info:
            c.ws.recv(timeout=5)
        assert info.value.rcvd.code == 1008


def test_drop_connections_and_stop_codes(sim):
    c = Raw(sim.url, token="demo")
    sim.call(sim.server.drop_connections)
    with pytest.raises(ConnectionClosed) as info:
        c.ws.recv(timeout=5)
    assert info.value.rcvd.code == 1001
    c2 = Raw(sim.url, token="demo")
    sim.stop()
    with pytest.raises(ConnectionClosed) as info:
        c2.ws.recv(timeout=5)
    assert info.value.rcvd.code == 1012


def test_reauth_with_fewer_rights_unsubscribes_server_side(tmp_path):
    from gateway.sim.config import TokenConfig, UserConfig, load_sim_config

    base = load_sim_config(None)
    viewer = UserConfig(
        name="viewer",
        password="v",
        display_name="Viewer",
        user_id="u-2",
        scopes=("Zenith/Market",),
        accounts=(),
    )
    cfg = quiet_config(
        tmp_path,
        users=(*base.auth.users, viewer),
        tokens=(*base.auth.tokens, TokenConfig("viewer-token", "viewer")),
        accept_any_token=False,
    )
    with run_sim_in_thread(cfg) as h:
        with pytest.raises(InvalidStatus):
            Raw(h.url, token="unknown-token")
        c = Raw(h.url, token="demo")
        c.sub("Trading", "Orders!XS:0001")
        c.send({"Controller": "Trading", "Topic": "Orders!XS:0001", "Action": "Sub"})  # second reference
        c.sub("Market", "Depth!XS01.XSX")
        r = c.rpc("Auth", "AuthToken", {"Provider": "Bearer", "AccessToken": "viewer-token"})
        assert r["Data"]["Scope"] == ["Zenith/Market"]
        frames = [m for m in c.drain(0.3) if m.get("Topic") == "Orders!XS:0001"]
        assert frames == [
            {"Controller": "Trading", "Topic": "Orders!XS:0001", "Action": "Error", "Data": "Authority"},
            {"Controller": "Trading", "Topic": "Orders!XS:0001", "Action": "Unsub", "Confirm": True},
            {"Controller": "Trading", "Topic": "Orders!XS:0001", "Action": "Unsub", "Confirm": True},
        ]
        assert h.call_sync(h.server.subscription_count, "Trading", "Orders!XS:0001") == 0
        assert h.call_sync(h.server.subscription_count, "Market", "Depth!XS01.XSX") == 1
        assert c.rpc("Trading", "QueryAccounts")["Data"] == "Authority"
        c.close()


def test_pings_keep_an_answering_client_alive(tmp_path):
    with run_sim_in_thread(quiet_config(tmp_path, idle_timeout=0.8, ping_interval=0.2)) as h:
        c = Raw(h.url, token="demo")
        time.sleep(1.6)  # silent client; its library answers the pings
        assert c.rpc("Market", "QueryMarkets")["Data"][0]["Code"] == "XSX"
        c.close()


def test_client_pings_count_as_activity(tmp_path):
    # server pings off: only the client's own Ping frames can keep the idle timer from firing (§1.11)
    with run_sim_in_thread(quiet_config(tmp_path, idle_timeout=0.6, ping_interval=0)) as h:
        c = Raw(h.url, token="demo")
        deadline = time.monotonic() + 1.8  # three idle timeouts without a single data frame
        while time.monotonic() < deadline:
            assert c.ws.ping().wait(2), "no pong: the connection was closed"
            time.sleep(0.15)
        assert c.rpc("Market", "QueryMarkets")["Data"][0]["Code"] == "XSX"
        with pytest.raises(ConnectionClosed) as info:  # silent again: the timer still fires
            c.ws.recv(timeout=5)
        assert info.value.rcvd.code == 1008


def test_fragmented_message_is_assembled(client):
    c = client
    msg = json.dumps({"Controller": "Market", "Topic": "QueryMarkets", "TransactionID": 77})
    c.ws.send([msg[:10], msg[10:25], msg[25:]])  # three frames: text + continuations
    r = c.expect(lambda m: m.get("TransactionID") == 77)
    assert r["Data"][0]["Code"] == "XSX"
    assert c.rpc("Market", "QueryMarkets")["Data"][0]["Code"] == "XSX"  # direct path still in order
