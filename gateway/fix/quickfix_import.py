"""Start-up: import QuickFIX's Python module with its ~6,100 field classes made on first use.

``quickfix.py`` (SWIG output, 52,000 lines) defines the engine's ~110 classes and then one
Python class per FIX field (``class Account(quickfix.StringField)`` ...), which the gateway
never uses: it builds messages from text and reads fields by tag. Importing it is about half of
the gateway's import time. :func:`install` imports a copy of the same source with those field
classes taken out, each kept as its own source text and executed, unchanged, the first time the
module's attribute is asked for (PEP 562 module ``__getattr__``), so ``quickfix.Account`` is the
very class the original would have made. A field class whose name is defined twice in the file
(the SWIG proxies of BeginString, SenderCompID, TargetCompID come first) stays where it is, so
the later definition still wins; none of the removed names is used by the rest of the module.
The ~5,900 constants the module copies from SWIG's variable link (``BeginString_FIX44 =
cvar.BeginString_FIX44``, field and message-type names) are made on first use the same way:
each copy is a linear search of that link, ~150 ms of start-up for values the gateway never reads.

The copy is compiled once per ``quickfix.py`` (size, mtime, Python's bytecode magic) into the
dictionary cache directory (``gateway.vocab.dictionary.writable_cache_dir``) and read from there
as marshalled code, whatever PYTHONDONTWRITEBYTECODE says. Anything unexpected (no cache
directory, a source this module does not recognise, an error while executing the copy) leaves
the normal import to do its job. Only ``plxtra-fix run`` installs it, before anything imports
``quickfix``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import marshal
import os
import re
import sys
import tempfile
import types
from collections import Counter
from pathlib import Path

__all__ = ["install", "lazy_source"]

log = logging.getLogger("gateway.fix.quickfix_import")

_VERSION = 2   # of the transformation below: a change writes new cache files
# One constant copied from SWIG's variable link (``Account_FIELD`` style names, BeginString values):
# ~5,900 of them, and each ``cvar.X`` is a linear search of the link's list, ~150 ms in all.
_CVAR = re.compile(r"^(\w+) = cvar\.\1\n", re.MULTILINE)
# One field class exactly as SWIG's quickfix.py writes it (tab-indented).
_FIELD_CLASS = re.compile(
    r"^class (\w+)\(quickfix\.(\w+Field)\):\n"
    r"\tdef __init__\(self, data = None\):\n"
    r"\t\tif data == None:\n"
    r"\t\t\tquickfix\.\2\.__init__\(self, (\d+)\)\n"
    r"\t\telse:\n"
    r"\t\t\tquickfix\.\2\.__init__\(self, \3, data\)\n",
    re.MULTILINE,
)
_TAIL = '''

# -- added by gateway.fix.quickfix_import: field classes made on first use --------------------
def __getattr__(name):
    source = _plx_lazy_fields.get(name)
    if source is None:
        raise AttributeError(f"module 'quickfix' has no attribute {name!r}")
    exec(source, globals())
    return globals()[name]


def __dir__():
    return sorted({*globals(), *_plx_lazy_fields})
'''


def lazy_source(source: str) -> tuple[str, int]:
    """The module text for ``source`` (a SWIG ``quickfix.py``) and how many field classes it
    makes lazily. Raises ValueError when ``source`` does not look like one."""
    defined = Counter(re.findall(r"^class (\w+)\b", source, re.MULTILINE))
    lazy: dict[str, str] = {}

    def take(match: re.Match[str]) -> str:
        name = match.group(1)
        if defined[name] > 1:
            return match.group(0)
        lazy[name] = match.group(0)
        return ""

    core = _FIELD_CLASS.sub(take, source)
    assigned = Counter(re.findall(r"^(\w+) = ", core, re.MULTILINE))

    def take_constant(match: re.Match[str]) -> str:
        name = match.group(1)
        if assigned[name] > 1 or defined[name] or name in lazy:
            return match.group(0)
        lazy[name] = match.group(0)
        return ""

    core = _CVAR.sub(take_constant, core)
    if not lazy or "import _quickfix" not in core or "__getattr__" in core:
        raise ValueError("not the quickfix.py this loader knows")
    words = set(re.findall(r"\b[A-Za-z_]\w*\b", core))
    if used := sorted(n for n in lazy if n in words):
        raise ValueError(f"field classes or constants used inside the module: {used[:5]}")
    return f"{core}\n_plx_lazy_fields = {lazy!r}\n{_TAIL}", len(lazy)


def _cached_code(origin: Path, directory: Path) -> types.CodeType:
    st = origin.stat()
    magic = importlib.util.MAGIC_NUMBER.hex()
    target = directory / f"quickfix-{st.st_size}-{st.st_mtime_ns}-{magic}-l{_VERSION}.code"
    with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
        code = marshal.loads(target.read_bytes())
        if isinstance(code, types.CodeType):
            return code
    text, count = lazy_source(origin.read_text(encoding="utf-8"))
    code = compile(text, str(origin), "exec")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(marshal.dumps(code))
        os.replace(tmp, target)   # another process may write the same file: each renames its own
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    log.debug("quickfix.py compiled with %d lazy field classes into %s", count, target)
    return code


def install() -> bool:
    """Import ``quickfix`` the lazy way now; False (nothing changed) when it is imported already
    or anything stands in the way, in which case the usual import happens when first needed."""
    if "quickfix" in sys.modules:
        return False
    from gateway.vocab.dictionary import writable_cache_dir

    try:
        spec = importlib.util.find_spec("quickfix")
        directory = writable_cache_dir()
        if spec is None or spec.origin is None or not spec.origin.endswith(".py") or directory is None:
            return False
        code = _cached_code(Path(spec.origin), directory)
    except (OSError, ValueError, SyntaxError) as exc:
        log.debug("quickfix imported as usual: %s", exc)
        return False
    module = importlib.util.module_from_spec(spec)
    sys.modules["quickfix"] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop("quickfix", None)
        log.warning("lazy import of quickfix failed: imported as usual", exc_info=True)
        return False
    return True
