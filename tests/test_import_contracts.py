"""ARCHITECTURE §2's import rules hold: the import-linter contracts of pyproject.toml are kept.

`./dev.sh test` runs this, so a change that makes the bridge import the store, the harness import
the gateway it certifies, or the simulator share code with the gateway fails the build. The
second test keeps the contract list itself honest: each rule of ARCHITECTURE has its contract.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import importlinter.api  # noqa: F401  (configures import-linter's readers, as its CLI does)
import pytest
from importlinter.application.use_cases import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"

# Part -> parts it may import (ARCHITECTURE §2), besides gateway.vocab, gateway.errors and
# gateway.failpoints, which every part may import except config ("nothing of ours") and the
# simulator (which must not share the gateway's understanding of the wire).
MAY_IMPORT: dict[str, set[str]] = {
    "config": set(),
    "vocab": set(),
    "fix": {"config"},
    "zenith": {"config"},
    "bridge": {"config"},   # plus the pure Zenith records/values, through ignore_imports
    "store": {"config"},
    "harness": set(),
    "sim": set(),
}
PARTS = {"app", "bridge", "cert", "cli", "config", "fix", "harness", "ops", "sim", "store", "vocab", "zenith"}


def _contracts() -> list[dict[str, object]]:
    with PYPROJECT.open("rb") as f:
        return list(tomllib.load(f)["tool"]["importlinter"]["contracts"])


def test_import_contracts_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    kept = lint_imports(config_filename=str(PYPROJECT), cache_dir=None, no_logo=True)
    report = capsys.readouterr().out
    assert kept, f"import contracts broken (ARCHITECTURE §2):\n{report}"
    assert "0 broken" in report, report


@pytest.mark.parametrize("part", sorted(MAY_IMPORT))
def test_every_rule_of_architecture_has_its_contract(part: str) -> None:
    source = f"gateway.{part}"
    mine = [c for c in _contracts() if c.get("type") == "forbidden" and c.get("source_modules") == [source]]
    assert len(mine) == 1, f"no single forbidden contract for {source}"
    forbidden = {str(m).removeprefix("gateway.") for m in mine[0]["forbidden_modules"]}  # type: ignore[attr-defined]
    expected = PARTS - MAY_IMPORT[part] - {part}
    if part not in ("config", "sim"):
        expected -= {"vocab"}
    assert forbidden == expected, f"{source} forbids {sorted(forbidden)}; ARCHITECTURE: {sorted(expected)}"
