"""Writes the session-layer ``.def`` scripts of this folder, one set per FIX version.

``python specs/session-layer/make_scripts.py`` rewrites ``fix42/``, ``fix44/`` and ``fix50sp2/``
from the one list below, so the three versions test the same behaviour. The scripts are ordinary
QuickFIX acceptance-test scripts (``I`` send, ``E`` expect, ``iCONNECT``, ``eDISCONNECT``; ``|`` is
written for SOH here and turned into SOH in the files). The harness is the initiator, the engine
under test the acceptor; every Logon carries ResetSeqNumFlag(141)=Y so no script depends on
another's sequence numbers. Lines expecting an application message (the ``D`` answers) need
``plxtra-fix certify --accept-any-app-answer`` against an engine that is not an echo server.

Placeholders: ``{B}`` BeginString, ``{S}`` our CompID, ``{T}`` the engine's, ``{L}`` what a FIXT.1.1
Logon adds (DefaultApplVerID 1137=9), ``<TIME>`` the current UTC time (the runner fills it in).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSIONS = {  # folder -> (BeginString, our CompID, the engine's CompID, Logon extra, account)
    "fix42": ("FIX.4.2", "CLIENT2", "PLXTRA", "", "XS:0099"),
    "fix44": ("FIX.4.4", "CLIENT1", "PLXTRA", "", "XS:0099"),
    "fix50sp2": ("FIXT.1.1", "CLIENT3", "PLXTRA", "|1137=9", "XS:0099"),
}

LOGON_I = "I8={B}|35=A|34=1|49={S}|52=<TIME>|56={T}|98=0|108=30|141=Y{L}|"
LOGON_E = "E8={B}|35=A|34=1|49={T}|52=<TIME>|56={S}|98=0|108=30|141=Y{L}|"


def hb(seq: int, extra: str = "") -> str:
    return f"I8={{B}}|35=0|34={seq}|49={{S}}|52=<TIME>|56={{T}}|{extra}"


def test_request(seq: int, ident: str) -> str:
    return f"I8={{B}}|35=1|34={seq}|49={{S}}|52=<TIME>|56={{T}}|112={ident}|"


def heartbeat_e(seq: int, ident: str) -> str:
    return f"E8={{B}}|35=0|34={seq}|49={{T}}|52=<TIME>|56={{S}}|112={ident}|"


def logout(seq_in: int, seq_out: int) -> list[str]:
    return [f"I8={{B}}|35=5|34={seq_in}|49={{S}}|52=<TIME>|56={{T}}|",
            f"E8={{B}}|35=5|34={seq_out}|49={{T}}|52=<TIME>|56={{S}}|", "eDISCONNECT"]


def reject_e(seq: int, ref: int, text: str, extra: str) -> str:
    return f"E8={{B}}|35=3|34={seq}|49={{T}}|52=<TIME>|56={{S}}|45={ref}|58={text}|{extra}"


def order(seq: int, cl: str, extra: str = "") -> str:
    return (f"I8={{B}}|35=D|34={seq}|49={{S}}|52=<TIME>|56={{T}}|{extra}11={cl}|1={{A}}|21=1|55=XS01|207=XSX|"
            "54=1|60=<TIME>|38=10|40=2|44=1|59=0|")


def echo(seq: int) -> str:
    # What an echo server would send back; --accept-any-app-answer takes the gateway's
    # ExecutionReport (Rejected: unknown account) in its place, checking 34, 49 and 56.
    return f"E8={{B}}|35=D|34={seq}|49={{T}}|52=<TIME>|56={{S}}|"


def start() -> list[str]:
    return ["iCONNECT", LOGON_I, LOGON_E]


SCRIPTS: dict[str, tuple[str, list[str]]] = {
    "01_logon_logout": ("Logon answered with Logon; Logout answered with Logout, then disconnect",
                        [*start(), *logout(2, 2)]),
    "02_test_request": ("TestRequest answered by a Heartbeat carrying its TestReqID",
                        [*start(), test_request(2, "HELLO"), heartbeat_e(2, "HELLO"), *logout(3, 3)]),
    "03_heartbeat_no_answer": ("a Heartbeat is not answered; the next TestRequest is, in sequence",
                               [*start(), hb(2), test_request(3, "AFTER"), heartbeat_e(2, "AFTER"),
                                *logout(4, 3)]),
    "04_two_test_requests": ("two TestRequests, two Heartbeats in order",
                             [*start(), test_request(2, "ONE"), heartbeat_e(2, "ONE"), test_request(3, "TWO"),
                              heartbeat_e(3, "TWO"), *logout(4, 4)]),
    "05_gap_resend_request": ("a gap (seq 5 after the Logon) makes the engine ask for 2 onwards",
                              [*start(), hb(5),
                               "E8={B}|35=2|34=2|49={T}|52=<TIME>|56={S}|7=2|16=0|",
                               "I8={B}|35=4|34=2|49={S}|52=<TIME>|56={T}|43=Y|122=<TIME>|123=Y|36=5|",
                               test_request(6, "FILLED"), heartbeat_e(3, "FILLED"), *logout(7, 4)]),
    "06_sequence_reset_gap_fill": ("SequenceReset-GapFill moves the expected number on",
                                   [*start(), "I8={B}|35=4|34=2|49={S}|52=<TIME>|56={T}|123=Y|36=10|",
                                    test_request(10, "GF"), heartbeat_e(2, "GF"), *logout(11, 3)]),
    "07_sequence_reset_reset": ("SequenceReset-Reset (no GapFillFlag) sets the expected number",
                                [*start(), "I8={B}|35=4|34=2|49={S}|52=<TIME>|56={T}|36=20|",
                                 test_request(20, "RESET"), heartbeat_e(2, "RESET"), *logout(21, 3)]),
    "08_possdup_already_seen_ignored": ("a PossDup repeat of a number already received is ignored",
                                        [*start(), test_request(2, "FIRST"), heartbeat_e(2, "FIRST"),
                                         "I8={B}|35=1|34=2|49={S}|52=<TIME>|56={T}|43=Y|122=<TIME>|112=FIRST|",
                                         test_request(3, "NEXT"), heartbeat_e(3, "NEXT"), *logout(4, 4)]),
    "09_seqnum_too_low_logout": ("a number already received without PossDup ends the session",
                                 [*start(), test_request(2, "A"), heartbeat_e(2, "A"), hb(2),
                                  "E8={B}|35=5|34=3|49={T}|52=<TIME>|56={S}|"
                                  "58=MsgSeqNum too low, expecting 3 but received 2|", "eDISCONNECT"]),
    "10_garbled_checksum_ignored": ("a message with a wrong CheckSum is dropped, not answered",
                                    [*start(), "I8={B}|9=50|35=1|34=2|49={S}|52=<TIME>|56={T}|112=BAD"
                                               "|10=000|",
                                     test_request(2, "GOOD"), heartbeat_e(2, "GOOD"), *logout(3, 3)]),
    "11_garbled_no_msgtype_ignored": ("a message whose third field is not MsgType is dropped",
                                      [*start(), "I8={B}|34=2|35=1|49={S}|52=<TIME>|56={T}|112=BAD|",
                                       test_request(2, "GOOD"), heartbeat_e(2, "GOOD"), *logout(3, 3)]),
    "12_resend_request_gap_fill": ("a ResendRequest for admin messages is answered with a GapFill",
                                   [*start(), "I8={B}|35=2|34=2|49={S}|52=<TIME>|56={T}|7=1|16=0|",
                                    "E8={B}|35=4|34=1|43=Y|49={T}|52=<TIME>|56={S}|122=<TIME>|36=2|123=Y|",
                                    *logout(3, 2)]),
    "13_first_message_not_logon": ("a first message other than Logon: disconnected",
                                   ["iCONNECT", hb(1), "eDISCONNECT"]),
    "14_invalid_msgtype_rejected": ("an unknown MsgType gets a session Reject 373=11",
                                    [*start(), "I8={B}|35=ZZ|34=2|49={S}|52=<TIME>|56={T}|",
                                     reject_e(2, 2, "Invalid MsgType", "372=ZZ|373=11|"), *logout(3, 3)]),
    "15_required_tag_missing": ("a TestRequest without TestReqID gets a Reject 373=1 for tag 112",
                                [*start(), "I8={B}|35=1|34=2|49={S}|52=<TIME>|56={T}|",
                                 reject_e(2, 2, "Required tag missing", "371=112|372=1|373=1|"),
                                 *logout(3, 3)]),
    "16_tag_not_defined_for_message": ("a standard tag the MsgType does not define: Reject 373=2",
                                       [*start(), hb(2, "58=hello|"),
                                        reject_e(2, 2, "Tag not defined for this message type",
                                                 "371=58|372=0|373=2|"), *logout(3, 3)]),
    "17_possdup_without_orig_sending_time": ("a PossDup repeat without OrigSendingTime: Reject for tag 122",
                                             [*start(), test_request(2, "X"), heartbeat_e(2, "X"),
                                              "I8={B}|35=1|34=2|49={S}|52=<TIME>|56={T}|43=Y|112=X|",
                                              reject_e(3, 2, "Required tag missing", "371=122|372=1|373=1|"),
                                              test_request(3, "Y"), heartbeat_e(4, "Y"), *logout(4, 5)]),
    "18_sending_time_accuracy": ("a SendingTime five minutes old: Reject 373=10, then Logout",
                                 [*start(), "I8={B}|35=1|34=2|49={S}|52=<TIME-300>|56={T}|112=OLD|",
                                  reject_e(2, 2, "SendingTime accuracy problem", "372=1|373=10|"),
                                  "E8={B}|35=5|34=3|49={T}|52=<TIME>|56={S}|", "eDISCONNECT"]),
    "19_comp_id_changes_after_logon": ("a message from another SenderCompID: Reject 373=9, Logout",
                                       [*start(), "I8={B}|35=1|34=2|49=SOMEONE|52=<TIME>|56={T}|112=WHO|",
                                        reject_e(2, 2, "CompID problem", "372=1|373=9|"),
                                        "E8={B}|35=5|34=3|49={T}|52=<TIME>|56={S}|", "eDISCONNECT"]),
    "20_application_message_answered": ("an order is answered by one application message in sequence",
                                        [*start(), order(2, "SL20"), echo(2), test_request(3, "DONE"),
                                         heartbeat_e(3, "DONE"), *logout(4, 4)]),
    "21_application_after_gap_fill": ("an order sent after a gap and its GapFill is processed",
                                      [*start(), order(4, "SL21"),
                                       "E8={B}|35=2|34=2|49={T}|52=<TIME>|56={S}|7=2|16=0|",
                                       "I8={B}|35=4|34=2|49={S}|52=<TIME>|56={T}|43=Y|122=<TIME>|123=Y|36=4|",
                                       echo(3), *logout(5, 4)]),
    "22_logon_second_connection_refused": ("a second Logon for a session already logged on is refused",
                                           [*start(), "i2,CONNECT",
                                            "I2,8={B}|35=A|34=1|49={S}|52=<TIME>|56={T}|98=0|108=30|141=Y{L}|",
                                            "e2,DISCONNECT", test_request(2, "STILL"),
                                            heartbeat_e(2, "STILL"),
                                            *logout(3, 3)]),
}


def render(lines: list[str], begin: str, sender: str, target: str, logon_extra: str, account: str) -> str:
    out = []
    for line in lines:
        text = line.replace("{B}", begin).replace("{S}", sender).replace("{T}", target)
        text = text.replace("{L}", logon_extra).replace("{A}", account)
        out.append(text.replace("|", "\x01"))
    return "\n".join(out) + "\n"


def main() -> None:
    for folder, (begin, sender, target, extra, account) in VERSIONS.items():
        directory = HERE / folder
        directory.mkdir(exist_ok=True)
        for old in directory.glob("*.def"):
            old.unlink()
        for name, (purpose, lines) in SCRIPTS.items():
            header = f"# {name}: {purpose} ({begin}; generated by make_scripts.py)\n"
            text = header + render(lines, begin, sender, target, extra, account)
            (directory / f"{name}.def").write_text(text, encoding="latin-1")


if __name__ == "__main__":
    main()
