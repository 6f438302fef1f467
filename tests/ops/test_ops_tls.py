"""FIX over TLS with certificates made by the test: a QuickFIX SSL initiator and Python's ssl
module log on to the gateway's TLS acceptor port; plaintext on that port, a certificate from
another CA and an expired certificate are refused. Needs quickfix built with SSL (dev.sh and
.ci/run build it; ``deploy/build-quickfix-ssl.sh``): without it this module fails, on purpose."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import quickfix as fix
import yaml

from gateway.app.testing import demo_session, run_gateway_in_thread, write_test_config
from gateway.fix.testing import free_port
from gateway.fix.transport import plan_transports, ssl_available
from gateway.harness.codec import FixParser, encode
from tests.ops.certs import Pki, make_pki

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _config(tmp_path: Path, pki: Pki, fix_port: int, tls_port: int) -> Path:
    sessions = [demo_session("client1", "FIX.4.4", "CLIENT1", ["0001"], transport="tls"),
                demo_session("client2", "FIX.4.2", "CLIENT2", ["0003"])]
    return write_test_config(tmp_path, "embedded", fix_port, sessions=sessions, gateway={
        "tls_listen_port": tls_port,
        "tls": {"certificate": str(pki.server.cert), "private_key": str(pki.server.key), "ca": str(pki.ca),
                "verify_client": True, "min_version": "TLSv1.2"}})


def _logon() -> bytes:
    now = datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]
    return encode("FIX.4.4", [(35, "A"), (49, "CLIENT1"), (56, "PLXTRA"), (34, "1"), (52, now), (98, "0"),
                              (108, "30"), (141, "Y")])


def _read_message(sock: socket.socket, timeout: float = 5.0):   # type: ignore[no-untyped-def]
    parser = FixParser()
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = sock.recv(4096)
        if not data:
            return None
        parser.feed(data)
        if (msg := parser.next()) is not None:
            return msg
    return None


def _tls_client(pki: Pki, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def test_quickfix_here_is_built_with_ssl() -> None:
    assert ssl_available(), "quickfix lacks SSL (HAVE_SSL): run deploy/build-quickfix-ssl.sh (dev.sh does)"


def test_python_ssl_client_logs_on_and_bad_clients_are_refused(tmp_path: Path, pki: Pki) -> None:
    fix_port, tls_port = free_port(), free_port()
    with run_gateway_in_thread(_config(tmp_path, pki, fix_port, tls_port)):
        # 1. A good client certificate: the handshake verifies both ways, the Logon is answered.
        ctx = _tls_client(pki, pki.client.cert, pki.client.key)
        with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw, ctx.wrap_socket(
                raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(_logon())
            answer = _read_message(tls)
            assert answer is not None and answer.msg_type == "A", answer
            assert answer.get(56) == "CLIENT1"

        # 2. Plaintext FIX on the TLS port: no Logon comes back, the connection is dropped.
        with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw:
            raw.sendall(_logon())
            raw.settimeout(5)
            try:
                data = raw.recv(4096)
            except (ConnectionResetError, TimeoutError):
                data = b""
            assert b"35=A" not in data

        # 3. A certificate from a CA the gateway does not trust, 4. an expired one, 5. none at all.
        for cert, key in ((pki.rogue_client.cert, pki.rogue_client.key),
                          (pki.expired_client.cert, pki.expired_client.key), (None, None)):
            ctx = _tls_client(pki, cert, key)
            refused = (ssl.SSLError, ConnectionResetError, BrokenPipeError, TimeoutError, AssertionError)
            with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw, pytest.raises(
                    refused), ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(_logon())   # TLS 1.3: the server's refusal arrives after the handshake
                answer = _read_message(tls)
                assert answer is not None, "connection closed without a Logon"
                pytest.fail(f"logged on with {cert}")

        # 6. The plain session still works on the plain port, and a TLS session is not served there.
        with socket.create_connection(("127.0.0.1", fix_port), timeout=5) as raw:
            raw.sendall(_logon())
            answer = _read_message(raw, timeout=3)
            assert answer is None or answer.msg_type != "A"


class _Initiator(fix.Application):
    def __init__(self) -> None:
        super().__init__()
        self.logged_on = threading.Event()

    def onCreate(self, sessionID: fix.SessionID) -> None: ...
    def onLogon(self, sessionID: fix.SessionID) -> None:
        self.logged_on.set()
    def onLogout(self, sessionID: fix.SessionID) -> None: ...
    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...
    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None: ...


def test_quickfix_ssl_initiator_logs_on_over_tls(tmp_path: Path, pki: Pki) -> None:
    fix_port, tls_port = free_port(), free_port()
    with run_gateway_in_thread(_config(tmp_path, pki, fix_port, tls_port)):
        settings = fix.SessionSettings()
        settings.setFromString(f"""[DEFAULT]
ConnectionType=initiator
SocketConnectHost=127.0.0.1
SocketConnectPort={tls_port}
ReconnectInterval=1
HeartBtInt=30
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
ResetOnLogon=Y
FileStorePath={tmp_path / "initiator-store"}
SSLProtocol=+TLSv1_2 +TLSv1_3
ClientCertificateFile={pki.client.cert}
ClientCertificateKeyFile={pki.client.key}
CertificationAuthoritiesFile={pki.ca}

[SESSION]
BeginString=FIX.4.4
SenderCompID=CLIENT1
TargetCompID=PLXTRA
""")
        app = _Initiator()
        store = fix.MemoryStoreFactory()
        logs = fix.ScreenLogFactory(False, False, False)
        initiator = fix.SSLSocketInitiator(app, store, settings, logs)
        initiator.start()
        try:
            assert app.logged_on.wait(15), "the QuickFIX SSL initiator did not log on"
        finally:
            initiator.stop(True)


def test_tls_sessions_get_their_own_port_and_initiators_their_backup_hosts(tmp_path: Path,
                                                                           pki: Pki) -> None:
    from gateway.config.loader import load_config

    cfg_path = _config(tmp_path, pki, 9878, 9443)
    doc = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    doc["sessions"].append({"name": "venue", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA",
                            "target_comp_id": "VENUE", "role": "initiator", "host": "10.0.0.1", "port": 7001,
                            "backup_hosts": [{"host": "10.0.0.2", "port": 7002}], "trading": False})
    cfg_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    cfg = load_config(cfg_path)
    from gateway.config.model import Role
    from gateway.config.quickfix_settings import render_connector_settings

    plan = plan_transports(cfg, render_connector_settings(cfg))
    acceptor, initiator = plan.plain[Role.ACCEPTOR], plan.plain[Role.INITIATOR]
    assert "TargetCompID=CLIENT1" not in acceptor and "TargetCompID=CLIENT2" in acceptor
    assert plan.tls_acceptor_text is not None
    assert "SocketAcceptPort=9443" in plan.tls_acceptor_text
    assert "CertificateVerifyLevel=1" in plan.tls_acceptor_text
    assert f"ServerCertificateFile={pki.server.cert}" in plan.tls_acceptor_text
    assert "SocketConnectHost1=10.0.0.2\nSocketConnectPort1=7002" in initiator


@pytest.mark.parametrize("trusted", [True, False], ids=["venue-ca-trusted", "venue-ca-unknown"])
def test_gateway_tls_initiator_logs_on_to_a_quickfix_ssl_acceptor(tmp_path: Path, pki: Pki,
                                                                  trusted: bool) -> None:
    venue_port = free_port()
    settings = fix.SessionSettings()
    settings.setFromString(f"""[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort={venue_port}
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=N
SSLProtocol=+TLSv1_2 +TLSv1_3
ServerCertificateFile={pki.server.cert}
ServerCertificateKeyFile={pki.server.key}
CertificationAuthoritiesFile={pki.ca}
CertificateVerifyLevel=1

[SESSION]
BeginString=FIX.4.4
SenderCompID=VENUE
TargetCompID=PLXTRA
HeartBtInt=30
""")
    venue = _Initiator()   # the same callbacks serve an acceptor
    acceptor = fix.SSLSocketAcceptor(venue, fix.MemoryStoreFactory(), settings,
                                     fix.ScreenLogFactory(False, False, False))
    acceptor.start()
    try:
        session = {"name": "venue", "begin_string": "FIX.4.4", "sender_comp_id": "PLXTRA",
                   "target_comp_id": "VENUE", "role": "initiator", "host": "127.0.0.1", "port": venue_port,
                   "transport": "tls", "trading": False, "reset_on_logon": True,
                   "tls": {"ca": str(pki.ca if trusted else pki.rogue_ca),
                           "certificate": str(pki.client.cert), "private_key": str(pki.client.key)}}
        cfg = write_test_config(tmp_path, "embedded", free_port(), sessions=[session], message_store="memory")
        with run_gateway_in_thread(cfg):
            if trusted:
                assert venue.logged_on.wait(20), "the gateway's TLS initiator did not log on"
            else:   # the venue's certificate does not verify against the configured CA
                assert not venue.logged_on.wait(7), "logged on to a venue whose CA is not configured"
    finally:
        acceptor.stop(True)
