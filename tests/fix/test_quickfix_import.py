"""gateway.fix.quickfix_import: the quickfix module made with lazy field classes is the same module.

Each check runs in a fresh interpreter (``quickfix`` is already imported in the test process),
against the real quickfix.py of the environment and a private cache directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.fix.quickfix_import import lazy_source

ROOT = Path(__file__).resolve().parents[2]

# What the interpreter reports: the module's public names, a few field classes as the code
# would use them, and whether the lazy path was taken.
_PROBE = r"""
import json, sys
lazy = sys.argv[1] == "lazy"
if lazy:
    from gateway.fix.quickfix_import import install
    installed = install()
    again = install()
import quickfix as fix
before = "Account" in vars(fix) or "BeginString_FIX44" in vars(fix)
names = sorted(n for n in dir(fix) if not n.startswith("_"))
acct = fix.Account("XS:0001")
message = fix.Message()
message.setField(fix.Account("XS:0002"))
message.getHeader().setField(fix.MsgType("D"))
fields = {n: [getattr(fix, n)().getField(), [c.__name__ for c in getattr(fix, n).__mro__]]
          for n in ("Account", "ClOrdID", "Price", "OrderQty", "BeginString", "SenderCompID", "MDEntryType")}
constants = {n: getattr(fix, n) for n in ("BeginString_FIX44", "BeginString_FIXT11", "ODBC_LOG_PASSWORD")}
out = {"constants": constants, "names": names, "fields": fields, "acct": acct.getValue(),
       "text": message.toString(), "module": fix.Account.__module__, "qualname": fix.Account.__qualname__}
if lazy:
    out.update(installed=installed, again=again, before=before)
print(json.dumps(out))
"""


def _probe(mode: str, cache: Path) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PLXTRA_FIX_DICTIONARY_CACHE=str(cache))
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(done.stdout)


def test_lazy_module_has_every_name_and_the_same_field_classes(tmp_path: Path) -> None:
    usual = _probe("usual", tmp_path)
    first = _probe("lazy", tmp_path)    # compiles the copy into the cache
    again = _probe("lazy", tmp_path)    # reads it from there
    assert list(tmp_path.glob("quickfix-*.code"))
    for lazy in (first, again):
        assert lazy["installed"] is True and lazy["again"] is False
        assert lazy["before"] is False          # not made until asked for
        for key in ("constants", "names", "fields", "acct", "text", "module", "qualname"):
            assert lazy[key] == usual[key], key
    assert usual["fields"]["Account"][0] == 1 and "StringField" in usual["fields"]["Account"][1]
    assert usual["constants"]["BeginString_FIX44"] == "FIX.4.4"


def test_the_constants_copied_from_swig_are_made_on_first_use_too() -> None:
    source = (Path(__import__("quickfix").__file__)).read_text(encoding="utf-8")
    text, lazy = lazy_source(source)
    copied = source.count(" = cvar.")
    assert "\nBeginString_FIX44 = cvar.BeginString_FIX44\n" not in text.split("_plx_lazy_fields = ")[0]
    assert lazy > 6000 + 5000 and text.count(" = cvar.") <= copied


def test_source_it_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError):
        lazy_source("import os\nclass A:\n    pass\n")
    # A field class the rest of the module uses by name must not be made lazy.
    used = ("import _quickfix\nclass StringField:\n\tpass\nX = Account\n"
            "class Account(quickfix.StringField):\n\tdef __init__(self, data = None):\n\t\tif data == None:\n"
            "\t\t\tquickfix.StringField.__init__(self, 1)\n\t\telse:\n"
            "\t\t\tquickfix.StringField.__init__(self, 1, data)\n")
    with pytest.raises(ValueError, match="used inside"):
        lazy_source(used)
