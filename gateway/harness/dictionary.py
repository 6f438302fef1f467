"""Names and meanings of FIX tags from the QuickFIX data dictionaries, read at run time.

The ``quickfix`` pip package installs its spec XML (``FIX40.xml`` ... ``FIX50SP2.xml``,
``FIXT11.xml``) under ``<prefix>/share/quickfix``; we find them through the package's own file
list (``importlib.metadata``), then ``sysconfig``'s data path, or a directory given by the caller
or by ``PLXTRA_FIX_SPEC_DIR``. Nothing is copied into this repository, and no tag table is kept
by hand: every name comes from those files.

Each file is parsed once (``xml.etree.ElementTree.iterparse``) and cached: tag and message
names, enum descriptions, and each message's structure, from which ``group_layout`` tells where
the repeating groups are (components expanded). Layout of a QuickFIX
dictionary: ``<fix><header/><trailer/><messages><message name msgtype msgcat>...</messages>
<components/><fields><field number name type><value enum description/></field></fields></fix>``.

FIXT.1.1 sessions carry the session layer from ``FIXT11.xml`` and the application layer from
the version named by ApplVerID(1128) (or the session's DefaultApplVerID(1137)), FIX.5.0SP2
by default; a :class:`FixDictionary` then looks in both, session layer first.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import sysconfig
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from gateway.harness.errors import DictionaryError

__all__ = [
    "FixDictionary",
    "GroupLayout",
    "SpecFile",
    "dictionary_for",
    "find_spec_dir",
    "load_dictionary",
    "load_spec",
]

_ENV_DIR = "PLXTRA_FIX_SPEC_DIR"
_DEFAULT_APPL_VER = "FIX50SP2"
_DATA_TYPES = frozenset({"DATA", "XMLDATA"})


@dataclass(frozen=True, slots=True)
class SpecFile:
    """What one QuickFIX dictionary file says, as lookup tables."""

    name: str  # e.g. "FIX44"
    path: str
    field_names: dict[int, str]
    field_types: dict[int, str]
    enums: dict[int, dict[str, str]]
    message_names: dict[str, str]
    message_categories: dict[str, str]  # msgtype -> "admin" / "app"
    # message structures as written: "header", "trailer", "msg:<MsgType>" -> items, where an item
    # is ("f", field name), ("c", component name) or ("g", group count field name, items)
    layouts: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    components: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)

    @property
    def data_tags(self) -> frozenset[int]:
        return frozenset(t for t, kind in self.field_types.items() if kind in _DATA_TYPES)


@dataclass(frozen=True, slots=True)
class GroupLayout:
    """Repeating groups of a message (or of one group entry), for showing their nesting.

    ``members`` are the tags an entry may hold (nested groups' count tags included); an entry
    starts with ``delimiter``; ``groups`` maps the count tags found at this level to their layout.
    For a whole message ``count_tag`` and ``delimiter`` are 0.
    """

    count_tag: int
    delimiter: int
    members: frozenset[int]
    groups: dict[int, GroupLayout]


class FixDictionary:
    """Lookups for one FIX version (for FIXT: session layer + one application version).

    The specs' tables are merged once (earlier specs win), so every lookup is one dict access.
    """

    def __init__(self, version: str, specs: tuple[SpecFile, ...]) -> None:
        self.version = version
        self.specs = specs
        self.field_names: dict[int, str] = {}
        self.field_types: dict[int, str] = {}
        self.enums: dict[int, dict[str, str]] = {}
        self.message_names: dict[str, str] = {}
        self.message_categories: dict[str, str] = {}
        for spec in reversed(specs):
            self.field_names.update(spec.field_names)
            self.field_types.update(spec.field_types)
            self.enums.update(spec.enums)
            self.message_names.update(spec.message_names)
            self.message_categories.update(spec.message_categories)
        self._by_name = {name: tag for tag, name in self.field_names.items()}
        self._by_message_name = {name: msg_type for msg_type, name in self.message_names.items()}
        self._layouts: dict[str, GroupLayout] = {}

    def group_layout(self, msg_type: str) -> GroupLayout:
        """Where the repeating groups of ``msg_type`` (header and trailer included) are. Cached."""
        layout = self._layouts.get(msg_type)
        if layout is None:
            groups: dict[int, GroupLayout] = {}
            members: list[int] = []
            for part in ("header", f"msg:{msg_type}", "trailer"):
                spec = next((sp for sp in self.specs if sp.layouts.get(part)), None)
                if spec is not None:
                    tags, found = _resolve(spec.layouts[part], spec.components, self._by_name, frozenset())
                    members += tags
                    groups.update(found)
            layout = self._layouts[msg_type] = GroupLayout(0, 0, frozenset(members), groups)
        return layout

    def __repr__(self) -> str:
        return f"<FixDictionary {self.version} from {', '.join(s.name for s in self.specs)}>"

    def field_name(self, tag: int) -> str | None:
        return self.field_names.get(tag)

    def field_type(self, tag: int) -> str | None:
        return self.field_types.get(tag)

    def tag(self, name: str) -> int | None:
        """Tag number for a field name (``"ClOrdID"`` -> 11)."""
        return self._by_name.get(name)

    def message_name(self, msg_type: str) -> str | None:
        return self.message_names.get(msg_type)

    def msg_type(self, name: str) -> str | None:
        """MsgType value for a message name (``"NewOrderSingle"`` -> ``"D"``)."""
        return self._by_message_name.get(name)

    def is_admin(self, msg_type: str) -> bool:
        return self.message_categories.get(msg_type) == "admin"

    def value_meaning(self, tag: int, value: str) -> str | None:
        """What ``value`` of ``tag`` means: the message name for MsgType(35), the enum description
        otherwise (``54``, ``"1"`` -> ``"BUY"``); None if the field has no such enum value."""
        if tag == 35:
            return self.message_names.get(value)
        values = self.enums.get(tag)
        return None if values is None else values.get(value)

    @property
    def data_tags(self) -> frozenset[int]:
        return frozenset(t for t, kind in self.field_types.items() if kind in _DATA_TYPES)


def _resolve(
    items: list[tuple[object, ...]],
    components: dict[str, list[tuple[object, ...]]],
    by_name: dict[str, int],
    active: frozenset[str],
) -> tuple[list[int], dict[int, GroupLayout]]:
    """Tags in order and groups at this level, components expanded; a component that is already
    being expanded (``active``) is skipped: the XML is input and may loop."""
    tags: list[int] = []
    groups: dict[int, GroupLayout] = {}
    for item in items:
        kind, name = item[0], str(item[1])
        if kind == "c":
            if name not in active:
                inner_tags, inner_groups = _resolve(
                    components.get(name, []), components, by_name, active | {name}
                )
                tags += inner_tags
                groups.update(inner_groups)
            continue
        tag = by_name.get(name)
        if tag is None:
            continue
        tags.append(tag)
        if kind == "g":
            children = item[2]
            assert isinstance(children, list)
            entry_tags, entry_groups = _resolve(children, components, by_name, active)
            delimiter = entry_tags[0] if entry_tags else 0
            groups[tag] = GroupLayout(tag, delimiter, frozenset(entry_tags), entry_groups)
    return tags, groups


# -- locating and loading -----------------------------------------------------------------------------
def find_spec_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Directory holding the QuickFIX dictionaries; DictionaryError naming where we looked."""
    tried: list[str] = []
    candidates: list[Path] = []
    if explicit is not None:  # asked for: that one or an error, not a silent fallback
        directory = Path(explicit)
        if _has_specs(directory):
            return directory
        raise DictionaryError(f"no QuickFIX data dictionary (FIX*.xml) in {directory}")
    env = os.environ.get(_ENV_DIR)
    if env:
        candidates.append(Path(env))
    try:
        files = importlib.metadata.files("quickfix") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
        tried.append("quickfix package (not installed)")
    for entry in files:
        if str(entry).endswith("FIX44.xml"):
            candidates.append(Path(str(entry.locate())).resolve().parent)
            break
    for key in ("data", "purelib"):
        base = sysconfig.get_paths().get(key)
        if base:
            candidates.append(Path(base) / "share" / "quickfix")
    for directory in candidates:
        if _has_specs(directory):
            return directory
        tried.append(str(directory))
    raise DictionaryError(
        "no QuickFIX data dictionary (FIX*.xml) found; install the quickfix package or set "
        f"{_ENV_DIR}. Looked in: {', '.join(tried) or 'nowhere'}"
    )


def _has_specs(directory: Path) -> bool:
    return directory.is_dir() and any(directory.glob("FIX*.xml"))


_lock = threading.Lock()


@functools.lru_cache(maxsize=32)
def _load_spec_cached(path: str) -> SpecFile:
    return _parse_spec(Path(path))


def load_spec(name: str, spec_dir: str | os.PathLike[str] | None = None) -> SpecFile:
    """Parsed ``<name>.xml`` (``"FIX44"``, ``"FIXT11"``...), cached per file."""
    path = find_spec_dir(spec_dir) / f"{name}.xml"
    if not path.is_file():
        raise DictionaryError(f"no dictionary {path.name} in {path.parent}")
    with _lock:
        return _load_spec_cached(str(path))


def _parse_spec(path: Path) -> SpecFile:
    field_names: dict[int, str] = {}
    field_types: dict[int, str] = {}
    enums: dict[int, dict[str, str]] = {}
    message_names: dict[str, str] = {}
    message_categories: dict[str, str] = {}
    layouts: dict[str, list[tuple[object, ...]]] = {}
    components: dict[str, list[tuple[object, ...]]] = {}
    current: dict[str, str] | None = None
    path_tags: list[str] = []  # open elements, outermost first
    open_items: list[list[tuple[object, ...]]] = []  # structure being read: message, component, group
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                parent = path_tags[-1] if path_tags else ""
                path_tags.append(tag)
                attrib = elem.attrib
                if parent == "fields" and tag == "field":
                    number = int(attrib["number"])
                    field_names[number] = attrib["name"]
                    field_types[number] = attrib.get("type", "STRING")
                    current = enums.setdefault(number, {})
                elif tag == "value" and current is not None:
                    current[attrib["enum"]] = attrib.get("description", "")
                elif tag == "message":
                    msg_type = attrib["msgtype"]
                    message_names[msg_type] = attrib["name"]
                    message_categories[msg_type] = attrib.get("msgcat", "app")
                    open_items = [layouts.setdefault(f"msg:{msg_type}", [])]
                elif tag in ("header", "trailer") and parent == "fix":
                    open_items = [layouts.setdefault(tag, [])]
                elif tag == "component" and parent == "components":
                    open_items = [components.setdefault(attrib["name"], [])]
                elif open_items:
                    if tag == "field":
                        open_items[-1].append(("f", attrib["name"]))
                    elif tag == "component":
                        open_items[-1].append(("c", attrib["name"]))
                    elif tag == "group":
                        children: list[tuple[object, ...]] = []
                        open_items[-1].append(("g", attrib["name"], children))
                        open_items.append(children)
                continue
            path_tags.pop()
            parent = path_tags[-1] if path_tags else ""
            if tag == "field" and parent == "fields":
                current = None
            if tag == "group" and len(open_items) > 1:
                open_items.pop()
            elif tag in ("message", "header", "trailer") or (tag == "component" and parent == "components"):
                open_items = []
            # free what we have copied (the message bodies are most of the file)
            if tag in ("message", "component", "fields", "header", "trailer") or (
                tag == "field" and parent == "fields"
            ):
                elem.clear()
    except (ET.ParseError, KeyError, ValueError, OSError) as exc:
        raise DictionaryError(f"cannot read dictionary {path}: {exc}") from exc
    return SpecFile(
        path.stem,
        str(path),
        field_names,
        field_types,
        {t: v for t, v in enums.items() if v},
        message_names,
        message_categories,
        layouts,
        components,
    )


def _spec_name(version: str) -> str:
    """``FIX.4.4`` -> ``FIX44``; ``FIX.5.0SP2`` / ``FIX50SP2`` / ``FIX50_SP2`` -> ``FIX50SP2``."""
    return version.replace(".", "").replace("_", "").upper()


@functools.lru_cache(maxsize=64)
def _load_dictionary(begin_string: str, appl_ver_id: str | None, spec_dir: str | None) -> FixDictionary:
    if begin_string.startswith("FIXT"):
        session = load_spec(_spec_name(begin_string), spec_dir)
        app_name = _DEFAULT_APPL_VER
        if appl_ver_id:
            # ApplVerID(1128) values are enums of FIXT11 itself ("9" -> "FIX50_SP2")
            described = session.enums.get(1128, {}).get(appl_ver_id)
            app_name = _spec_name(described or appl_ver_id)
        app = load_spec(app_name, spec_dir)
        return FixDictionary(f"{begin_string}/{app.name}", (session, app))
    spec = load_spec(_spec_name(begin_string), spec_dir)
    return FixDictionary(begin_string, (spec,))


def load_dictionary(
    begin_string: str, appl_ver_id: str | None = None, spec_dir: str | os.PathLike[str] | None = None
) -> FixDictionary:
    """Dictionary for a BeginString (``FIX.4.2``, ``FIX.4.4``, ``FIXT.1.1`` + ApplVerID). Cached."""
    return _load_dictionary(begin_string, appl_ver_id, None if spec_dir is None else os.fspath(spec_dir))


def dictionary_for(
    begin_string: str,
    appl_ver_id: str | None = None,
    default_appl_ver_id: str | None = None,
    spec_dir: str | os.PathLike[str] | None = None,
) -> FixDictionary:
    """Dictionary for one message: its own ApplVerID(1128) wins over the session's default."""
    return load_dictionary(begin_string, appl_ver_id or default_appl_ver_id, spec_dir)
