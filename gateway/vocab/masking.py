"""Secret FIX fields: Password(554) and NewPassword(925), masked wherever a message is written down.

Part of the shared vocabulary because every writer of FIX text needs it: the gateway's QuickFIX
log files and its own log (:mod:`gateway.ops.masking`) and the harness's ``decode``. Masking keeps
the field and hides its value behind a fixed ``*****``, so a log still shows that a password was
sent, but not its length.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "SECRET_TAGS", "mask_fields", "mask_fix"]

MASK = "*****"
SECRET_TAGS = frozenset({554, 925})
# tag=value where the tag is a secret one, delimited by SOH, '|' or '^A' as the log readers accept.
_SECRET_FIELD = re.compile(r"(?:(?<=^)|(?<=[\x01|])|(?<=\^A))(554|925)=([^\x01|^]*)")


def mask_fix(raw: str) -> str:
    """``raw`` (a FIX message, any delimiter) with the values of secret tags replaced."""
    if "554=" not in raw and "925=" not in raw:
        return raw
    return _SECRET_FIELD.sub(lambda m: f"{m.group(1)}={MASK}", raw)


def mask_fields(fields: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """``fields`` with secret values masked (the same list when it holds no secret)."""
    if not any(tag in SECRET_TAGS for tag, _ in fields):
        return fields
    return [(tag, MASK if tag in SECRET_TAGS else value) for tag, value in fields]
