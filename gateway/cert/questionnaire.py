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
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gateway.cert.errors import QuestionnaireError

__all__ = ["LISTS", "capabilities", "load_questionnaire"]

LISTS = {"order_types": "order_type", "time_in_force": "tif", "market_data": "md"}
FLAGS = ("amend", "cancel", "order_status")
_KEYS = frozenset({"engine", "fix_version", *LISTS, *FLAGS})


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


def load_questionnaire(path: str) -> tuple[dict[str, Any], frozenset[str]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise QuestionnaireError(f"{path}: cannot read the questionnaire: {exc}") from None
    if not isinstance(data, dict):
        raise QuestionnaireError(f"{path}: the questionnaire is a mapping")
    return data, capabilities(data)
