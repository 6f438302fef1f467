"""The capability questionnaire: what the partner's engine does, which selects the steps it must pass
(as LSE's conformance tool does). Saved as given in the certification record.

    engine: {name: QuickFIX/J, version: "2.3.1"}
    fix_version: FIX.4.4
    order_types: [limit, market]         # -> capabilities order_type:limit, order_type:market
    time_in_force: [day, ioc]            # -> tif:day, tif:ioc
    amend: true                          # -> amend
    cancel: true                         # -> cancel
    order_status: true                   # -> order_status
    market_data: [snapshot, subscribe]   # -> md:snapshot, md:subscribe

A step's ``requires: [amend, order_type:market]`` runs only when every name is a capability.

The same answers come from a file (``--questionnaire``), from the web console's form or from a
partner's tooling (``POST /questionnaire`` on the JSON view); :func:`check_answers` validates all
three the same way, so the step selection cannot depend on where the answers came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gateway.cert.errors import QuestionnaireError

__all__ = ["CHOICES", "LISTS", "capabilities", "check_answers", "load_questionnaire"]

LISTS = {"order_types": "order_type", "time_in_force": "tif", "market_data": "md"}
FLAGS = ("amend", "cancel", "order_status")
_KEYS = frozenset({"engine", "fix_version", *LISTS, *FLAGS})
# What the console's form offers; a file may name other values (they select nothing shipped).
CHOICES: dict[str, tuple[str, ...]] = {
    "fix_version": ("FIX.4.2", "FIX.4.4", "FIX.5.0SP2"),
    "order_types": ("limit", "market"),
    "time_in_force": ("day", "ioc", "fok", "gtc"),
    "market_data": ("snapshot", "subscribe"),
}
# FIX 5.0 SP2 runs over the FIXT.1.1 session layer: either name answers for that run.
_SESSION_OF = {"FIX.4.2": "FIX.4.2", "FIX.4.4": "FIX.4.4", "FIX.5.0SP2": "FIXT.1.1", "FIXT.1.1": "FIXT.1.1"}


def capabilities(answers: Mapping[str, Any]) -> frozenset[str]:
    unknown = set(answers) - _KEYS
    if unknown:
        raise QuestionnaireError(f"unknown questionnaire keys {sorted(unknown)} (allowed: {sorted(_KEYS)})")
    names: set[str] = set()
    for key, prefix in LISTS.items():
        values = answers.get(key) or []
        if not isinstance(values, list):
            raise QuestionnaireError(f"{key} must be a list")
        names.update(f"{prefix}:{str(v).lower()}" for v in values)
    for flag in FLAGS:
        value = answers.get(flag, False)
        if not isinstance(value, bool):
            raise QuestionnaireError(f"{flag} must be true or false")
        if value:
            names.add(flag)
    return frozenset(names)


def check_answers(answers: Any, begin_string: str | None = None) -> frozenset[str]:
    """Validate answers from any source; ``begin_string``: the run's, which ``fix_version`` must name
    (a partner certifying FIX 4.2 on a FIX 4.4 session would be selected the wrong steps)."""
    if not isinstance(answers, Mapping):
        raise QuestionnaireError("the questionnaire answers are a mapping")
    engine = answers.get("engine")
    if engine is not None and not (isinstance(engine, Mapping)
                                   and all(isinstance(v, str) for v in engine.values())):
        raise QuestionnaireError("engine must be a mapping like {name: ..., version: ...}")
    version = answers.get("fix_version")
    if version is not None:
        if str(version) not in _SESSION_OF:
            known = ", ".join(CHOICES["fix_version"])
            raise QuestionnaireError(f"fix_version {version!r} is not one of {known}")
        if begin_string is not None and _SESSION_OF[str(version)] != begin_string:
            raise QuestionnaireError(f"fix_version {version} does not match this session ({begin_string})")
    return capabilities(answers)


def load_questionnaire(path: str) -> tuple[dict[str, Any], frozenset[str]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise QuestionnaireError(f"{path}: cannot read the questionnaire: {exc}") from None
    if not isinstance(data, dict):
        raise QuestionnaireError(f"{path}: the questionnaire is a mapping")
    return data, check_answers(data)
