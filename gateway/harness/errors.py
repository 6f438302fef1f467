"""Errors of the harness part (log parsing, replay, certification).

    GatewayError
    └── HarnessError
        ├── ParseError                   (offset, snippet; one class per way a message can be bad)
        │   ├── GarbageError             bytes that are not FIX between messages (allow_garbage=False)
        │   ├── BadBeginStringError      ``8=`` not followed by a short BeginString and SOH
        │   ├── BadBodyLengthError       BodyLength(9) missing, not second, not a number, or too large
        │   ├── BodyLengthMismatchError  CheckSum(10) not where BodyLength says (allow_bad_body_length=False)
        │   ├── BadChecksumError         CheckSum(10) value wrong (allow_bad_checksum=False); has ``message``
        │   ├── MissingChecksumError     no ``10=NNN<SOH>`` trailer could be found
        │   ├── MissingMsgTypeError      MsgType(35) is not the third field
        │   ├── MalformedFieldError      a field without ``=``, a non-numeric tag, or a short data field
        │   ├── MessageTooLargeError     a message longer than ``max_message_size``
        │   └── TruncatedMessageError    the input ended, or the next message began, mid-message
        ├── EncodeError                  ``encode`` refused its pairs (tag, reason)
        └── DictionaryError              no QuickFIX data dictionary for a version, or it is unreadable

Parse errors are *remote* errors in h11's sense: the bytes were bad, not the caller. The parser
has already consumed the bad bytes when it raises, so the caller may simply ask for the next message.
Log readers do not raise for bad logs: unreadable files, corrupt lines and truncated gzip become
``readers.LogProblem`` entries, so one bad line never stops a long read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.errors import GatewayError

if TYPE_CHECKING:  # pragma: no cover
    from gateway.harness.codec import FixMessage

__all__ = [
    "BadBeginStringError",
    "BadBodyLengthError",
    "BadChecksumError",
    "BodyLengthMismatchError",
    "DictionaryError",
    "EncodeError",
    "GarbageError",
    "HarnessError",
    "MalformedFieldError",
    "MessageTooLargeError",
    "MissingChecksumError",
    "MissingMsgTypeError",
    "ParseError",
    "TruncatedMessageError",
]


class HarnessError(GatewayError):
    """Base of every error raised on purpose by ``gateway.harness``."""


class ParseError(HarnessError):
    """Bytes that are not a well-formed FIX message.

    ``offset`` is the position of the offending message (or garbage) in the stream fed so far
    (or in the buffer given to :meth:`FixParser.cut`), ``snippet`` up to 80 bytes of it, and
    ``message`` the decoded message when decoding got that far (bad checksum / body length).
    """

    reason = "malformed FIX message"

    def __init__(
        self,
        detail: str = "",
        *,
        offset: int = -1,
        snippet: bytes = b"",
        message: FixMessage | None = None,
    ) -> None:
        self.detail = detail or self.reason
        self.offset = offset
        self.snippet = snippet[:80]
        self.message = message
        super().__init__(self.detail)


class GarbageError(ParseError):
    reason = "bytes that are not FIX between messages"


class BadBeginStringError(ParseError):
    reason = "bad BeginString(8)"


class BadBodyLengthError(ParseError):
    reason = "bad BodyLength(9)"


class BodyLengthMismatchError(ParseError):
    reason = "CheckSum(10) is not where BodyLength(9) says"


class BadChecksumError(ParseError):
    reason = "CheckSum(10) does not match the message"


class MissingChecksumError(ParseError):
    reason = "no CheckSum(10) trailer"


class MissingMsgTypeError(ParseError):
    reason = "MsgType(35) is not the third field"


class MalformedFieldError(ParseError):
    reason = "malformed field"


class MessageTooLargeError(ParseError):
    reason = "message larger than max_message_size"


class TruncatedMessageError(ParseError):
    reason = "message cut short"


class EncodeError(HarnessError):
    """``encode`` was given pairs that cannot make a valid message (a local error: fix the caller)."""

    def __init__(self, detail: str, *, tag: int | None = None) -> None:
        self.tag = tag
        super().__init__(detail)


class DictionaryError(HarnessError):
    """No usable QuickFIX data dictionary (not installed, unknown version, unreadable XML)."""
