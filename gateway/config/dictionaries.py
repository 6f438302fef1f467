"""Find the FIX data dictionaries (``FIX44.xml`` ...) that QuickFIX validates messages against.

The ``quickfix`` pip package installs them as data files under ``<prefix>/share/quickfix`` (its
wheel RECORD lists them as ``../../../share/quickfix/FIX44.xml``); we never copy them into this
repository. :func:`locate_dictionaries` looks, in order, at:

1. ``gateway.data_dictionary_dir`` when the configuration sets it (and nowhere else then);
2. the files the installed ``quickfix`` distribution declares (``importlib.metadata``);
3. ``share/quickfix`` under the interpreter's prefixes, the user base and the ``quickfix``
   module's own directory (also ``spec/`` beside it, the layout of a source checkout);
4. ``/usr/local/share/quickfix`` and ``/usr/share/quickfix``.

None of this imports ``quickfix``, so ``check-config`` works where the engine is not installed.

The engine's last step before QuickFIX reads the settings swaps every dictionary path for its
compiled copy (``gateway.vocab.dictionary.use_compiled_dictionaries``); what ``check-config``
prints and the logs show keep the files as configured.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import site
import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.config.errors import DictionaryNotFound
from gateway.config.model import GatewayConfig, SessionConfig
from gateway.config.sessions import FIXT

__all__ = [
    "DictionaryPaths",
    "candidate_dirs",
    "dictionary_file_names",
    "locate_dictionaries",
    "required_files",
]

log = logging.getLogger("gateway.config.dictionaries")

# BeginString, or ApplVerID for FIXT.1.1 application messages -> the file QuickFIX ships.
_FILES = {
    "FIX.4.2": "FIX42.xml",
    "FIX.4.4": "FIX44.xml",
    "FIXT.1.1": "FIXT11.xml",
    "FIX.5.0": "FIX50.xml",
    "FIX.5.0SP1": "FIX50SP1.xml",
    "FIX.5.0SP2": "FIX50SP2.xml",
}
_ALL_DEFAULT = ("FIX42.xml", "FIX44.xml", "FIXT11.xml", "FIX50SP2.xml")


def dictionary_file_names(session: SessionConfig) -> dict[str, str]:
    """QuickFIX setting name -> dictionary file name for one session.

    FIXT.1.1 splits session-level (transport) and application dictionaries; older versions use
    one ``DataDictionary`` for both.
    """
    if session.begin_string == FIXT:
        app = session.default_appl_ver_id or "FIX.5.0SP2"
        return {"TransportDataDictionary": _FILES[FIXT], "AppDataDictionary": _FILES[app]}
    return {"DataDictionary": _FILES[session.begin_string]}


def required_files(config: GatewayConfig | None) -> tuple[str, ...]:
    """Every dictionary file the configuration's sessions need (all four usual ones if None)."""
    if config is None:
        return _ALL_DEFAULT
    names: list[str] = []
    for session in config.sessions:
        for name in dictionary_file_names(session).values():
            if name not in names:
                names.append(name)
    return tuple(names)


@dataclass(frozen=True, slots=True)
class DictionaryPaths:
    """The directory holding the dictionaries; ``for_session`` gives QuickFIX settings for one."""

    directory: Path

    def path(self, file_name: str) -> Path:
        return self.directory / file_name

    def for_session(self, session: SessionConfig) -> dict[str, Path]:
        return {key: self.directory / name for key, name in dictionary_file_names(session).items()}


def _installed_record_dirs() -> list[Path]:
    try:
        dist = importlib.metadata.distribution("quickfix")
    except importlib.metadata.PackageNotFoundError:
        return []
    dirs: list[Path] = []
    for entry in dist.files or ():
        if entry.name.endswith(".xml") and entry.name.startswith("FIX"):
            located = Path(str(dist.locate_file(entry))).resolve().parent
            if located not in dirs:
                dirs.append(located)
    return dirs


def candidate_dirs() -> list[Path]:
    """Where an installed ``quickfix`` may have put its dictionaries, most specific first."""
    dirs: list[Path] = list(_installed_record_dirs())
    prefixes: list[str] = [sys.prefix, sys.exec_prefix, sys.base_prefix, sysconfig.get_path("data")]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        prefixes.append(user_base)
    spec = importlib.util.find_spec("quickfix") if "quickfix" not in sys.modules else None
    module_file = getattr(sys.modules.get("quickfix"), "__file__", None) or (spec.origin if spec else None)
    extra: list[Path] = []
    if module_file:
        module_dir = Path(module_file).resolve().parent
        extra += [module_dir / "share" / "quickfix", module_dir / "quickfix", module_dir / "spec",
                  module_dir.parent / "spec"]
    for prefix in prefixes:
        extra.append(Path(prefix) / "share" / "quickfix")
    extra += [Path("/usr/local/share/quickfix"), Path("/usr/share/quickfix")]
    for d in extra:
        if d not in dirs:
            dirs.append(d)
    return dirs


def locate_dictionaries(
    override: Path | None = None,
    *,
    needed: Iterable[str] = _ALL_DEFAULT,
    search: Iterable[Path] | None = None,
) -> DictionaryPaths:
    """The first directory holding every ``needed`` file; raises :class:`DictionaryNotFound`.

    With ``override`` only that directory is considered: an operator who names one must get it
    or a clear error, never a silent fallback to another version of the files.
    """
    wanted = tuple(needed)
    places = [override] if override is not None else list(search if search is not None else candidate_dirs())
    best_missing: tuple[str, ...] = wanted
    for place in places:
        missing = tuple(name for name in wanted if not (place / name).is_file())
        if not missing:
            return DictionaryPaths(place)
        if len(missing) < len(best_missing):
            best_missing = missing
    searched = [str(p) for p in places]
    if override is not None:
        reason = (f"gateway.data_dictionary_dir {str(override)!r} lacks {', '.join(best_missing)}")
    else:
        reason = ("QuickFIX data dictionaries not found (" + ", ".join(best_missing) + "); searched: "
                  + ", ".join(searched) + ". Install the quickfix package or set gateway.data_dictionary_dir")
    raise DictionaryNotFound(reason, searched=searched, missing=best_missing)
