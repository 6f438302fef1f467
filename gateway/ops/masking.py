"""Secrets out of anything written down: Password(554), NewPassword(925), and tokens.

Used by the QuickFIX log files the gateway writes (:mod:`gateway.ops.fixlog`) and by the gateway's
own log (:class:`SecretFilter`); the FIX-field part lives in :mod:`gateway.vocab.masking`, which
``decode`` uses too. Masking keeps the field and hides its value behind a fixed ``*****``, so a
log still shows that a password was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from gateway.vocab.masking import MASK, SECRET_TAGS, mask_fields, mask_fix

__all__ = ["MASK", "SECRET_TAGS", "SecretFilter", "mask_fields", "mask_fix", "mask_text"]


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
