"""Named FIX tags and the enumerations the bridge speaks, as wire values.

Tag numbers and enum values are those of the FIX 4.2 / 4.4 / 5.0SP2 data dictionaries
(``FIX42.xml``, ``FIX44.xml``, ``FIX50SP2.xml`` shipped with QuickFIX); the names are the
dictionary names in upper snake case (``ClOrdID`` -> ``CL_ORD_ID``). ``tests/bridge/test_vocab_tags.py``
checks every constant here against the installed dictionaries, so a typo cannot survive.

Enumerations are :class:`enum.StrEnum` whose values are the wire characters: ``str(Side.BUY)``
is ``"1"``, so they go straight into :meth:`OutboundMessage.build`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "TAG_NAMES",
    "BusinessRejectReason",
    "CxlRejReason",
    "CxlRejResponseTo",
    "ExecTransType",
    "ExecType",
    "MDEntryType",
    "MDReqRejReason",
    "MDUpdateAction",
    "MassCancelRequestType",
    "MassCancelResponse",
    "MassStatusReqType",
    "MsgType",
    "OrdRejReason",
    "OrdStatus",
    "OrdType",
    "SecurityTradingStatus",
    "Side",
    "SubscriptionRequestType",
    "TimeInForce",
    "TradSesStatus",
    "reason_for_version",
]

# --- header / session-level tags the application layer reads -------------------------------
BEGIN_STRING = 8
MSG_TYPE = 35
MSG_SEQ_NUM = 34
SENDER_COMP_ID = 49
TARGET_COMP_ID = 56
SENDING_TIME = 52
POSS_DUP_FLAG = 43
POSS_RESEND = 97
APPL_VER_ID = 1128

# --- orders --------------------------------------------------------------------------------
ACCOUNT = 1
AVG_PX = 6
CL_ORD_ID = 11
CUM_QTY = 14
CURRENCY = 15
EXEC_ID = 17
EXEC_INST = 18
EXEC_REF_ID = 19
EXEC_TRANS_TYPE = 20  # FIX 4.2 only
HANDL_INST = 21
SECURITY_ID_SOURCE = 22  # IDSource in 4.2
LAST_PX = 31
LAST_QTY = 32  # LastShares in 4.2
ORDER_ID = 37
ORDER_QTY = 38
ORD_STATUS = 39
ORD_TYPE = 40
ORIG_CL_ORD_ID = 41
PRICE = 44
SECURITY_ID = 48
SIDE = 54
SYMBOL = 55
TEXT = 58
TIME_IN_FORCE = 59
TRANSACT_TIME = 60
TRADE_DATE = 75
STOP_PX = 99
CXL_REJ_REASON = 102
ORD_REJ_REASON = 103
MIN_QTY = 110
MAX_FLOOR = 111
EXPIRE_TIME = 126
EXEC_TYPE = 150
LEAVES_QTY = 151
SECURITY_TYPE = 167
SECONDARY_ORDER_ID = 198
SECURITY_EXCHANGE = 207
MAX_SHOW = 210
EXPIRE_DATE = 432
CXL_REJ_RESPONSE_TO = 434
CL_ORD_LINK_ID = 583
MASS_STATUS_REQ_ID = 584
MASS_STATUS_REQ_TYPE = 585
MASS_CANCEL_REQUEST_TYPE = 530
MASS_CANCEL_RESPONSE = 531
MASS_CANCEL_REJECT_REASON = 532
TOTAL_AFFECTED_ORDERS = 533
MASS_ACTION_REPORT_ID = 1369  # required in OrderMassCancelReport from FIX 5.0
NO_AFFECTED_ORDERS = 534
AFFECTED_ORIG_CL_ORD_ID = 1824  # NoAffectedOrders entry from 5.0 (4.4 uses OrigClOrdID 41)
AFFECTED_ORDER_ID = 535
ORD_STATUS_REQ_ID = 790
TOT_NUM_REPORTS = 911
LAST_RPT_REQUESTED = 912
LAST_LIQUIDITY_IND = 851
AGGRESSOR_INDICATOR = 1057

# --- business reject -----------------------------------------------------------------------
REF_SEQ_NUM = 45
REF_MSG_TYPE = 372
BUSINESS_REJECT_REF_ID = 379
BUSINESS_REJECT_REASON = 380

# --- market data ---------------------------------------------------------------------------
NO_RELATED_SYM = 146
MD_REQ_ID = 262
SUBSCRIPTION_REQUEST_TYPE = 263
MARKET_DEPTH = 264
MD_UPDATE_TYPE = 265
AGGREGATED_BOOK = 266
NO_MD_ENTRY_TYPES = 267
NO_MD_ENTRIES = 268
MD_ENTRY_TYPE = 269
MD_ENTRY_PX = 270
MD_ENTRY_SIZE = 271
MD_ENTRY_DATE = 272
MD_ENTRY_TIME = 273
TICK_DIRECTION = 274
MD_MKT = 275
QUOTE_CONDITION = 276
TRADE_CONDITION = 277
MD_ENTRY_ID = 278
MD_UPDATE_ACTION = 279
MD_ENTRY_REF_ID = 280
MD_REQ_REJ_REASON = 281
MD_ENTRY_ORIGINATOR = 282
LOCATION_ID = 283
MD_ENTRY_BUYER = 288
MD_ENTRY_SELLER = 289
MD_ENTRY_POSITION_NO = 290
RPT_SEQ = 83
SECURITY_STATUS_REQ_ID = 324
UNSOLICITED_INDICATOR = 325
SECURITY_TRADING_STATUS = 326
HALT_REASON = 327  # HaltReasonChar in 4.2/4.4, HaltReason (int) in 5.0
TRAD_SES_REQ_ID = 335
TRADING_SESSION_ID = 336
TRAD_SES_STATUS = 340
NUMBER_OF_ORDERS = 346
TOTAL_VOLUME_TRADED = 387
SECURITY_REQ_ID = 320
SECURITY_RESPONSE_ID = 322
SECURITY_LIST_REQUEST_TYPE = 559
SECURITY_REQUEST_RESULT = 560
TOT_NO_RELATED_SYM = 393
TRADING_SESSION_SUB_ID = 625
LAST_FRAGMENT = 893
TRADE_ID = 1003
MARKET_ID = 1301
MD_BOOK_TYPE = 1021
MD_FEED_TYPE = 1022
MD_PRICE_LEVEL = 1023
AGGRESSOR_SIDE = 2446
SECURITY_DESC = 107
HIGH_PX = 332
LOW_PX = 333
SECURITY_REQUEST_TYPE = 321
SECURITY_RESPONSE_TYPE = 323
CFI_CODE = 461
LAST_UPDATE_TIME = 779  # required in FIX 5.0SP2 W by the QuickFIX dictionary

TAG_NAMES: dict[int, str] = {
    value: name
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, int) and not name.startswith("_")
}
"""Tag number -> constant name, for log lines and error messages."""


class MsgType(StrEnum):
    HEARTBEAT = "0"
    REJECT = "3"
    EXECUTION_REPORT = "8"
    ORDER_CANCEL_REJECT = "9"
    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REQUEST = "F"
    ORDER_CANCEL_REPLACE_REQUEST = "G"
    ORDER_STATUS_REQUEST = "H"
    ORDER_MASS_STATUS_REQUEST = "AF"
    ORDER_MASS_CANCEL_REQUEST = "q"
    ORDER_MASS_CANCEL_REPORT = "r"
    BUSINESS_MESSAGE_REJECT = "j"
    MARKET_DATA_REQUEST = "V"
    MARKET_DATA_SNAPSHOT = "W"
    MARKET_DATA_INCREMENTAL = "X"
    MARKET_DATA_REQUEST_REJECT = "Y"
    SECURITY_LIST_REQUEST = "x"
    SECURITY_LIST = "y"
    SECURITY_STATUS_REQUEST = "e"
    SECURITY_STATUS = "f"
    TRADING_SESSION_STATUS_REQUEST = "g"
    TRADING_SESSION_STATUS = "h"


class Side(StrEnum):
    BUY = "1"
    SELL = "2"
    SELL_SHORT = "5"
    SELL_SHORT_EXEMPT = "6"


class OrdType(StrEnum):
    MARKET = "1"
    LIMIT = "2"
    STOP = "3"
    STOP_LIMIT = "4"


class TimeInForce(StrEnum):
    DAY = "0"
    GOOD_TILL_CANCEL = "1"
    AT_THE_OPENING = "2"
    IMMEDIATE_OR_CANCEL = "3"
    FILL_OR_KILL = "4"
    GOOD_TILL_CROSSING = "5"
    GOOD_TILL_DATE = "6"
    AT_THE_CLOSE = "7"


class OrdStatus(StrEnum):
    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"  # FIX 4.2 only (4.4+ reports the new order's own status)
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    ACCEPTED_FOR_BIDDING = "D"
    PENDING_REPLACE = "E"


class ExecType(StrEnum):
    NEW = "0"
    PARTIAL_FILL = "1"  # FIX 4.2 only
    FILL = "2"  # FIX 4.2 only
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    RESTATED = "D"
    PENDING_REPLACE = "E"
    TRADE = "F"  # FIX 4.4+
    ORDER_STATUS = "I"  # FIX 4.4+


class ExecTransType(StrEnum):
    """FIX 4.2 tag 20; removed in 4.4."""

    NEW = "0"
    CANCEL = "1"
    CORRECT = "2"
    STATUS = "3"


class OrdRejReason(StrEnum):
    BROKER_OPTION = "0"
    UNKNOWN_SYMBOL = "1"
    EXCHANGE_CLOSED = "2"
    ORDER_EXCEEDS_LIMIT = "3"
    TOO_LATE_TO_ENTER = "4"
    UNKNOWN_ORDER = "5"
    DUPLICATE_ORDER = "6"
    UNSUPPORTED_ORDER_CHARACTERISTIC = "11"
    INCORRECT_QUANTITY = "13"
    UNKNOWN_ACCOUNT = "15"
    PRICE_EXCEEDS_CURRENT_PRICE_BAND = "16"  # 5.0 SP1 on, like the values below
    INVALID_PRICE_INCREMENT = "18"
    REFERENCE_PRICE_NOT_AVAILABLE = "19"
    INSUFFICIENT_CREDIT_LIMIT = "25"
    EXCEEDED_CLIP_SIZE_LIMIT = "26"
    EXCEEDED_MAX_NOTIONAL_ORDER_AMT = "27"
    OTHER = "99"


class CxlRejReason(StrEnum):
    TOO_LATE_TO_CANCEL = "0"
    UNKNOWN_ORDER = "1"
    BROKER_OPTION = "2"
    ALREADY_PENDING = "3"
    DUPLICATE_CL_ORD_ID = "6"
    PRICE_EXCEEDS_CURRENT_PRICE_BAND = "8"  # 5.0 SP1 on
    INVALID_PRICE_INCREMENT = "18"
    OTHER = "99"


class CxlRejResponseTo(StrEnum):
    ORDER_CANCEL_REQUEST = "1"
    ORDER_CANCEL_REPLACE_REQUEST = "2"


class BusinessRejectReason(StrEnum):
    OTHER = "0"
    UNKNOWN_ID = "1"
    UNKNOWN_SECURITY = "2"
    UNSUPPORTED_MESSAGE_TYPE = "3"
    APPLICATION_NOT_AVAILABLE = "4"
    CONDITIONALLY_REQUIRED_FIELD_MISSING = "5"
    NOT_AUTHORIZED = "6"
    DELIVER_TO_FIRM_NOT_AVAILABLE = "7"
    THROTTLE_LIMIT_EXCEEDED = "8"  # FIX 5.0 only; earlier versions answer 0 (Other) + Text
    INVALID_PRICE_INCREMENT = "18"


class MassCancelRequestType(StrEnum):
    BY_SECURITY = "1"
    BY_UNDERLYING = "2"
    BY_PRODUCT = "3"
    BY_CFI_CODE = "4"
    BY_SECURITY_TYPE = "5"
    BY_TRADING_SESSION = "6"
    ALL_ORDERS = "7"


class MassCancelResponse(StrEnum):
    REQUEST_REJECTED = "0"
    BY_SECURITY = "1"
    BY_UNDERLYING = "2"
    BY_PRODUCT = "3"
    BY_CFI_CODE = "4"
    BY_SECURITY_TYPE = "5"
    BY_TRADING_SESSION = "6"
    ALL_ORDERS = "7"


class MassStatusReqType(StrEnum):
    BY_SECURITY = "1"
    BY_UNDERLYING = "2"
    BY_PRODUCT = "3"
    BY_CFI_CODE = "4"
    BY_SECURITY_TYPE = "5"
    BY_TRADING_SESSION = "6"
    ALL_ORDERS = "7"
    BY_PARTY = "8"


class MDEntryType(StrEnum):
    BID = "0"
    OFFER = "1"
    TRADE = "2"
    INDEX_VALUE = "3"
    OPENING_PRICE = "4"
    CLOSING_PRICE = "5"
    SETTLEMENT_PRICE = "6"
    TRADING_SESSION_HIGH = "7"
    TRADING_SESSION_LOW = "8"
    TRADING_SESSION_VWAP = "9"
    IMBALANCE = "A"
    TRADE_VOLUME = "B"
    OPEN_INTEREST = "C"


class MDUpdateAction(StrEnum):
    NEW = "0"
    CHANGE = "1"
    DELETE = "2"


class SubscriptionRequestType(StrEnum):
    SNAPSHOT = "0"
    SNAPSHOT_PLUS_UPDATES = "1"
    DISABLE = "2"


class MDReqRejReason(StrEnum):
    UNKNOWN_SYMBOL = "0"
    DUPLICATE_MD_REQ_ID = "1"
    INSUFFICIENT_BANDWIDTH = "2"
    INSUFFICIENT_PERMISSIONS = "3"
    UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE = "4"
    UNSUPPORTED_MARKET_DEPTH = "5"
    UNSUPPORTED_MD_UPDATE_TYPE = "6"
    UNSUPPORTED_AGGREGATED_BOOK = "7"
    UNSUPPORTED_MD_ENTRY_TYPE = "8"


class SecurityTradingStatus(StrEnum):
    OPENING_DELAY = "1"
    TRADING_HALT = "2"
    RESUME = "3"
    NO_OPEN_NO_RESUME = "4"
    PRICE_INDICATION = "5"
    READY_TO_TRADE = "17"
    NOT_AVAILABLE_FOR_TRADING = "18"
    NOT_TRADED_ON_THIS_MARKET = "19"
    UNKNOWN_OR_INVALID = "20"
    PRE_OPEN = "21"
    OPENING_ROTATION = "22"
    FAST_MARKET = "23"


class TradSesStatus(StrEnum):
    UNKNOWN = "0"
    HALTED = "1"
    OPEN = "2"
    CLOSED = "3"
    PRE_OPEN = "4"
    PRE_CLOSE = "5"
    REQUEST_REJECTED = "6"


# --- reject reasons per version --------------------------------------------------------------
# The bridge picks the most specific reason FIX defines (5.0 SP2's enumerations); what a version's
# standard dictionary does not enumerate would make a validating partner Reject(35=3) the whole
# message, so it becomes that version's nearest reason (_NEAREST), else its catch-all (_OTHER).
_R = frozenset
_KNOWN: dict[tuple[int, str], frozenset[str]] = {
    (ORD_REJ_REASON, "FIX.4.2"): _R("012345678"),
    (ORD_REJ_REASON, "FIX.4.4"): _R([*"0123456789", "10", "11", "13", "14", "15", "99"]),
    (CXL_REJ_REASON, "FIX.4.2"): _R("0123"),
    (CXL_REJ_REASON, "FIX.4.4"): _R(["0", "1", "2", "3", "4", "5", "6", "99"]),
    (BUSINESS_REJECT_REASON, "FIX.4.2"): _R("012345"),
    (BUSINESS_REJECT_REASON, "FIX.4.4"): _R("01234567"),
    (MD_REQ_REJ_REASON, "FIX.4.2"): _R("012345678"),
}
# Limits of any kind are "order exceeds limit" before 5.0 SP1 split them up.
_NEAREST: dict[int, dict[str, str]] = {
    ORD_REJ_REASON: {"16": "3", "25": "3", "26": "3", "27": "3"},
}
_OTHER: dict[tuple[int, str], str] = {
    (ORD_REJ_REASON, "FIX.4.2"): OrdRejReason.BROKER_OPTION,
    (ORD_REJ_REASON, "FIX.4.4"): OrdRejReason.OTHER,
    (CXL_REJ_REASON, "FIX.4.2"): CxlRejReason.BROKER_OPTION,
    (CXL_REJ_REASON, "FIX.4.4"): CxlRejReason.OTHER,
    (BUSINESS_REJECT_REASON, "FIX.4.2"): BusinessRejectReason.OTHER,
    (BUSINESS_REJECT_REASON, "FIX.4.4"): BusinessRejectReason.OTHER,
}


def reason_for_version(tag: int, version: str, reason: str) -> str | None:
    """``reason`` (value of ``tag``: 102, 103, 281 or 380) as ``version`` ("FIX.4.2", "FIX.4.4",
    "FIX.5.0SP2") can carry it. None: the version has no fitting value, leave the tag out (only
    MDReqRejReason, which is optional and has no catch-all)."""
    known = _KNOWN.get((tag, version))
    if known is None or reason in known:
        return reason
    nearest = _NEAREST.get(tag, {}).get(reason)
    if nearest is not None and nearest in known:
        return nearest
    return _OTHER.get((tag, version))
