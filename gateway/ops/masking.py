"""Secrets out of anything written down: Password(554), NewPassword(925), and tokens.

Used by the QuickFIX log files the gateway writes (:mod:`gateway.ops.fixlog`), by the gateway's
own log (:class:`SecretFilter`) and by ``decode``. Masking keeps the field and its length class
out of sight (a fixed ``*****``) so a log still shows that a password was sent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = ["MASK", "SECRET_TAGS", "SecretFilter", "mask_fields", "mask_fix", "mask_text"]

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


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each known secret (e.g. the Zenith token) replaced by the mask."""
    for secret in secrets:
        if secret and len(secret) >= 8 and secret in text:   # short ones (demo) are no secrets
            text = text.replace(secret, MASK)
    return mask_fix(text)


class SecretFilter(logging.Filter):
    """A logging filter that masks FIX secrets and the given strings in every record it passes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:   # a broken format string is logging's business, not ours
            return True
        masked = mask_text(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        return True
