"""The certification record: what ran, against whom, when, every step's result, the message log's
SHA-256, signed with HMAC-SHA256.

The signature covers the canonical JSON of the record without its ``signature`` member (keys
sorted, no spaces, UTF-8), so any edit (a step turned green, another log, another partner) breaks it.
The key comes from a small config file (``record_key: ${PLXTRA_CERT_KEY}``, the environment
substitution of the gateway's config loader); a record written without a key says ``unsigned``
and never verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.cert.errors import RecordError
from gateway.cert.results import iso_utc

__all__ = ["RECORD_FORMAT", "VerifyResult", "build_record", "load_record_key", "sign_record",
           "verify_record", "write_record"]

RECORD_FORMAT = "plxtra-partner-certification/1"


def canonical(record: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_record(record: dict[str, Any], key: bytes | None) -> dict[str, Any]:
    if key is None:
        record["signature"] = {"algorithm": "none", "value": "unsigned"}
    else:
        digest = hmac.new(key, canonical(record), hashlib.sha256).hexdigest()
        record["signature"] = {"algorithm": "HMAC-SHA256", "value": digest}
    return record


def build_record(run: Any, *, log_path: Path | None) -> dict[str, Any]:
    """The record of a finished :class:`~gateway.cert.runner.CertRun` (unsigned)."""
    states = [s.to_json() for s in run.states]
    counts = {status: sum(1 for s in states if s["status"] == status)
              for status in ("passed", "failed", "skipped", "not-run", "waiting")}
    return {
        "format": RECORD_FORMAT,
        "verdict": "passed" if run.passed else "failed",
        "suites": [{"name": s.name, "title": s.title, "sha256": s.sha256, "file": Path(s.file).name}
                   for s in run.suites],
        "begin_string": run.options.begin_string,
        "partner": {"comp_id": run.options.partner_comp_id,
                    "engine": run.questionnaire.get("engine") or run.partner_engine},
        "plxtra": {"comp_id": run.options.our_comp_id},
        "questionnaire": run.questionnaire,
        "started": iso_utc(run.started),
        "ended": iso_utc(run.ended),
        "duration": (round((run.ended - run.started).total_seconds(), 3)
                     if run.started and run.ended else None),
        "counts": counts,
        "steps": states,
        "message_log": {"file": None if log_path is None else log_path.name,
                        "messages": len(run.log.entries), "sha256": run.log.sha256()},
    }


def write_record(path: Path, record: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_record_key(config_path: str | None) -> bytes | None:
    """``record_key`` from a YAML file (``${ENV}`` substituted); None without a config."""
    if config_path is None:
        return None
    from gateway.config.errors import ConfigError
    from gateway.config.yamlnodes import NodeReader

    try:
        text = Path(config_path).read_text(encoding="utf-8")
        root = yaml.compose(text)
    except (OSError, yaml.YAMLError) as exc:
        raise RecordError(f"{config_path}: cannot read the certification config: {exc}") from None
    if not isinstance(root, yaml.MappingNode):
        raise RecordError(f"{config_path}: expected a mapping with record_key")
    reader = NodeReader(config_path, os.environ)
    for key_node, value in root.value:
        if getattr(key_node, "value", None) == "record_key":
            key = reader.string(value, "record_key")
            if reader.errors or not key:
                error: ConfigError | None = reader.errors[0] if reader.errors else None
                raise RecordError(str(error) if error else f"{config_path}: record_key is empty")
            return key.encode("utf-8")
    raise RecordError(f"{config_path}: no record_key (write record_key: ${{PLXTRA_CERT_KEY}})")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    problems: tuple[str, ...]
    verdict: str | None


def verify_record(path: Path, key: bytes | None, *, log_path: Path | None = None) -> VerifyResult:
    """Check the signature (and the message log's hash when the log is at hand)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecordError(f"{path}: not a readable JSON record: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise RecordError(f"{path}: not a {RECORD_FORMAT} record")
    problems = []
    signature = record.get("signature") or {}
    if signature.get("algorithm") != "HMAC-SHA256":
        problems.append("the record is not signed")
    elif key is None:
        problems.append("no key to check the signature with (--config with record_key)")
    else:
        wanted = hmac.new(key, canonical(record), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(wanted, str(signature.get("value", ""))):
            problems.append("signature mismatch: the record was altered or signed with another key")
    log_info = record.get("message_log") or {}
    candidate = log_path
    if candidate is None and log_info.get("file"):
        candidate = path.parent / str(log_info["file"])
    if candidate is not None and candidate.is_file():
        digest = hashlib.sha256(candidate.read_bytes()).hexdigest()
        if digest != log_info.get("sha256"):
            problems.append(f"message log {candidate.name} does not match the record's SHA-256")
    return VerifyResult(not problems, tuple(problems), record.get("verdict"))
