"""The gateway's own log: text or JSON lines, UTC with milliseconds, secrets masked.

``plxtra-fix run --log-format json`` (or ``gateway.logs.format: json``) writes one JSON object
per line: ``time`` (ISO 8601 UTC, ms), ``level``, ``logger``, ``message``, and ``exception``
when there is one. Either format passes every record through
:class:`~gateway.ops.masking.SecretFilter`, so Password(554), NewPassword(925) and the Zenith
token never reach the log in clear.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from gateway.ops.masking import SecretFilter, mask_text

__all__ = ["FORMATS", "JsonFormatter", "install_logging"]

FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        obj = {
            "time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            obj["exception"] = mask_text(self.formatException(record.exc_info), self.secrets)
        return json.dumps(obj, ensure_ascii=False)


def install_logging(level: str, fmt: str = "text", secrets: Iterable[str] = (),
                    stream: TextIO | None = None) -> logging.Handler:
    """Replace the root logger's handlers with one on ``stream`` (stderr) in format ``fmt``."""
    secrets = tuple(s for s in secrets if s)
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(secrets))
    else:
        formatter = logging.Formatter("%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s",
                                      datefmt="%Y-%m-%d %H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return handler
