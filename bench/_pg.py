"""A throw-away PostgreSQL server for the benches: the tests' own server code, not a copy.

``tests/pg_server.py`` (Debian's ``initdb``/``postgres``, a temporary data directory, a free port on
127.0.0.1, SCRAM password) is what the benches need too. A bench cannot depend on the test suite
as a package (``tests`` has no ``__init__``), so this module loads ``tests.pg_server`` from the
repository root through importlib: as a module when the root is importable (namespace package),
else from its file. When the server code moves to a shared module, only this file changes.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["PgServer", "PgServerError", "start_pg_server"]

ROOT = Path(__file__).resolve().parents[1]
_NAME = "tests.pg_server"


def _load() -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        module = importlib.import_module(_NAME)
        if Path(getattr(module, "__file__", "") or "").resolve() == ROOT / "tests" / "pg_server.py":
            return module
    except ImportError:
        pass
    # Another `tests` package shadows ours (or none is importable): load the file itself.
    spec = importlib.util.spec_from_file_location(_NAME, ROOT / "tests" / "pg_server.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {ROOT / 'tests' / 'pg_server.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module   # dataclasses resolve their module by name while executing it
    spec.loader.exec_module(module)
    return module


_pg = _load()
PgServer: Any = _pg.PgServer
PgServerError: Any = _pg.PgServerError
start_pg_server: Any = _pg.start_pg_server
