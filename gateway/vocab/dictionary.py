"""The one reader of QuickFIX's XML data dictionaries (``FIX42.xml`` ... ``FIX50SP2.xml``, ``FIXT11.xml``).

Two jobs in one module, because both read the same files and must agree on them:

* **Lookups for Python** (:func:`load_dictionary`, :func:`dictionary_for`, :func:`load_spec`):
  tag and message names, enum meanings and each message's structure, from which
  :meth:`FixDictionary.group_layout` tells where the repeating groups are (components expanded).
  Read lazily, on first use (``xml.etree.ElementTree.iterparse``); each file is parsed once per
  process and again only when it changed on disk (size or mtime). ``plxtra-fix run`` never calls
  these; the harness, ``decode``, the log analysis and the certification views do.
* **Files for QuickFIX** (:func:`compiled_dictionary`, :func:`message_dictionary`). QuickFIX C++ 1.16
  spends most of its parse of ``FIX50SP2.xml`` looking components up (see the section below): a
  *compiled* copy with the components written out where they are used builds the same data
  dictionary in a fraction of the time, and a *message* copy (one message type, fields without
  their enum values) gives the outbound side the group structure of the message it builds for a
  few milliseconds and a few hundred kB, instead of another full parse of the file. Both are
  written once to a cache directory (``$PLXTRA_FIX_DICTIONARY_CACHE``, else
  ``$XDG_CACHE_HOME/plxtra-fix/dictionaries``, else ``~/.cache/plxtra-fix/dictionaries``, else a
  private directory under the system's temporary one) and named by the SHA-256 of the source
  file's content: a changed source is compiled again, an unchanged one is not even parsed again.

Where the files are: the ``quickfix`` pip package installs them under ``<prefix>/share/quickfix``;
:func:`find_spec_dir` looks through the package's own file list (``importlib.metadata``), then
``sysconfig``'s data path, or a directory given by the caller or by ``PLXTRA_FIX_SPEC_DIR``.
Nothing is copied into this repository and no tag table is kept by hand.

Layout of a QuickFIX dictionary: ``<fix><header/><trailer/><messages><message name msgtype
msgcat>...</messages><components/><fields><field number name type><value enum description/>
</field></fields></fix>``. FIXT.1.1 sessions carry the session layer from ``FIXT11.xml`` and the
application layer from the version named by ApplVerID(1128) (or the session's
DefaultApplVerID(1137)), FIX.5.0SP2 by default; a :class:`FixDictionary` then looks in both,
session layer first.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import importlib.metadata
import logging
import os
import re
import sysconfig
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from gateway.errors import GatewayError

__all__ = [
    "DictionaryError",
    "FixDictionary",
    "GroupLayout",
    "SpecFile",
    "cache_dir",
    "compiled_dictionary",
    "dictionary_for",
    "find_spec_dir",
    "load_dictionary",
    "load_spec",
    "load_spec_file",
    "message_dictionary",
    "parse_counts",
    "release_compiled",
    "use_compiled_dictionaries",
    "writable_cache_dir",
]

log = logging.getLogger("gateway.vocab.dictionary")


class DictionaryError(GatewayError):
    """No usable QuickFIX data dictionary (not installed, unknown version, unreadable XML)."""


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


def _spec_dir(spec_dir: str | None) -> Path:
    """:func:`find_spec_dir`, remembered: searching the package's file list costs milliseconds."""
    if spec_dir is not None:
        return find_spec_dir(spec_dir)
    return _default_spec_dir(os.environ.get(_ENV_DIR))


@functools.lru_cache(maxsize=8)
def _default_spec_dir(env_value: str | None) -> Path:
    del env_value   # only the cache key: find_spec_dir reads the environment itself
    return find_spec_dir()


def _has_specs(directory: Path) -> bool:
    return directory.is_dir() and any(directory.glob("FIX*.xml"))


_lock = threading.Lock()
# path -> ((size, mtime_ns), parsed): a file is read again only when it changed on disk.
_specs: dict[str, tuple[tuple[int, int], SpecFile]] = {}
# How many times each file was parsed by Python in this process (the tests count on it).
parse_counts: collections.Counter[str] = collections.Counter()


def load_spec(name: str, spec_dir: str | os.PathLike[str] | None = None) -> SpecFile:
    """Parsed ``<name>.xml`` (``"FIX44"``, ``"FIXT11"``...): parsed on first use, then again only
    if the file changed."""
    return load_spec_file(_spec_dir(None if spec_dir is None else os.fspath(spec_dir)) / f"{name}.xml")


def load_spec_file(path: str | os.PathLike[str]) -> SpecFile:
    """:func:`load_spec` for a file path."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise DictionaryError(f"no dictionary {path.name} in {path.parent}") from None
    stamp = (st.st_size, st.st_mtime_ns)
    key = str(path)
    with _lock:
        known = _specs.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
        spec = _parse_spec(path)
        _specs[key] = (stamp, spec)
        return spec


def _parse_spec(path: Path) -> SpecFile:
    field_names: dict[int, str] = {}
    field_types: dict[int, str] = {}
    enums: dict[int, dict[str, str]] = {}
    message_names: dict[str, str] = {}
    message_categories: dict[str, str] = {}
    layouts: dict[str, list[tuple[object, ...]]] = {}
    components: dict[str, list[tuple[object, ...]]] = {}
    current: dict[str, str] | None = None
    parse_counts[str(path)] += 1
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


_dictionaries: dict[tuple[str, ...], FixDictionary] = {}


def _load_dictionary(begin_string: str, appl_ver_id: str | None, spec_dir: str | None) -> FixDictionary:
    directory = _spec_dir(spec_dir)
    if begin_string.startswith("FIXT"):
        session = load_spec_file(directory / f"{_spec_name(begin_string)}.xml")
        app_name = _DEFAULT_APPL_VER
        if appl_ver_id:
            # ApplVerID(1128) values are enums of FIXT11 itself ("9" -> "FIX50_SP2")
            described = session.enums.get(1128, {}).get(appl_ver_id)
            app_name = _spec_name(described or appl_ver_id)
        app = load_spec_file(directory / f"{app_name}.xml")
        specs: tuple[SpecFile, ...] = (session, app)
        version = f"{begin_string}/{app.name}"
    else:
        specs = (load_spec_file(directory / f"{_spec_name(begin_string)}.xml"),)
        version = begin_string
    key = (version, *(s.path for s in specs))
    with _lock:
        cached = _dictionaries.get(key)
        # the same parsed files (a changed file was parsed again, and makes a new dictionary)
        if cached is not None and all(a is b for a, b in zip(cached.specs, specs, strict=True)):
            return cached
        made = _dictionaries[key] = FixDictionary(version, specs)
        return made


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


# -- compiled dictionaries for QuickFIX ----------------------------------------------------------------
#
# QuickFIX C++ 1.16 (DataDictionary::addXMLComponentFields) finds every <component> reference with an
# XPath query, "/fix/components/component[@name='X']": a scan of the whole components section, for
# every reference, recursively. FIX50SP2.xml has hundreds of components referenced from everywhere,
# so that lookup is most of its ~1.4 s parse. A compiled file says the same thing with the components
# written out where they are used, and QuickFIX reads it in a quarter of the time.
#
# "The same thing" means: QuickFIX builds the same data dictionary from it. What a component does in
# QuickFIX (DataDictionary.cpp, readFromDocument / addXMLComponentFields / addXMLGroup):
# - at message level (and nested in a component there), for each field or group child x, with CR the
#   *referencing* component's own required flag (not and-ed with the enclosing component's):
#   required-in-message iff x.required and CR; the group's own entries then use x.required;
# - directly in a group: its fields are members of the group, never required; its groups' entries use
#   their own required flag; the group's delimiter is the component's first *direct* field/group
#   (0 if it has none, and then the next child decides);
# - nested components inside a component inside a group mark their required fields required in the
#   top-level dictionary for the message type (QuickFIX calls addRequiredField on itself there).
# Where the written-out form cannot express the same (a group whose count is optional but whose
# entries' fields are required, that quirk, an odd delimiter), the compiled file keeps a component:
# a small wrapper holding just that group, or the original component, untouched, so QuickFIX
# resolves it exactly as before. The one thing that differs is the top-level dictionary's own
# field order list (getOrderedFields of the message dictionary), which QuickFIX only reads on group
# dictionaries. tests/vocab/test_dictionary.py compares both builds through QuickFIX itself.

_COMPILER_VERSION = 1
_CACHE_ENV = "PLXTRA_FIX_DICTIONARY_CACHE"
_WRAPPER = "PlxtraCompiled"   # prefix of wrapper component names (no FIX component starts so)


def _req(elem: ET.Element) -> bool:
    return elem.get("required", "") in ("Y", "y")


def _yn(flag: bool) -> str:
    return "Y" if flag else "N"


def _attrs(elem: ET.Element, **override: str) -> str:
    items = {**elem.attrib, **override}
    return "".join(f" {k}={quoteattr(v)}" for k, v in items.items())


class _Compiler:
    """Writes messages of one parsed dictionary with their components spelled out (see above)."""

    def __init__(self, root: ET.Element) -> None:
        self.root = root
        section = root.find("components")
        self.components: dict[str, ET.Element] = {}
        for comp in section if section is not None else ():
            if comp.tag == "component" and "name" in comp.attrib:
                self.components.setdefault(comp.attrib["name"], comp)
        self.kept: set[str] = set()                    # original components referenced as they are
        self.wrappers: dict[str, str] = {}             # wrapper body -> wrapper name
        self.wrapper_bodies: dict[str, str] = {}       # wrapper name -> XML of its definition

    # component references -----------------------------------------------------------------------
    def _component(self, ref: ET.Element) -> ET.Element:
        name = ref.get("name", "")
        comp = self.components.get(name)
        if comp is None:   # QuickFIX would fail on it: keep it so that it still fails the same way
            raise _Keep(name)
        return comp

    def _keep(self, ref: ET.Element, out: list[str]) -> None:
        """Reference the original component: QuickFIX resolves it exactly as in the source file."""
        self._keep_closure(ref.get("name", ""))
        out.append(f"<component{_attrs(ref)}/>")

    def _keep_closure(self, name: str) -> None:
        if name in self.kept or name not in self.components:
            return
        self.kept.add(name)
        for inner in self.components[name].iter("component"):
            if inner is not self.components[name]:
                self._keep_closure(inner.get("name", ""))

    def _wrap(self, body: str, out: list[str]) -> None:
        name = self.wrappers.get(body)
        if name is None:
            name = f"{_WRAPPER}{len(self.wrappers) + 1}"
            self.wrappers[body] = name
            self.wrapper_bodies[name] = body
        out.append(f'<component name="{name}" required="N"/>')

    # message level -------------------------------------------------------------------------------
    def message(self, message: ET.Element) -> str:
        out: list[str] = [f"<message{_attrs(message)}>"]
        for child in message:
            if child.tag == "field":
                out.append(f"<field{_attrs(child)}/>")
            elif child.tag == "group":
                out.append(self._group(child, _req(child)))
            elif child.tag == "component":
                self._top_component(child, out)
        out.append("</message>")
        return "".join(out)

    def _top_component(self, ref: ET.Element, out: list[str]) -> None:
        """A component at message level, or nested in one there: CR is its own required flag."""
        try:
            comp = self._component(ref)
        except _Keep:
            self._keep(ref, out)
            return
        cr = _req(ref)
        for child in comp:
            if child.tag == "field":
                out.append(f"<field{_attrs(child, required=_yn(_req(child) and cr))}/>")
            elif child.tag == "group":
                own = _req(child)
                if own and not cr:   # optional count, required entries: only a component says that
                    self._wrap(self._group(child, own), out)
                else:
                    out.append(self._group(child, own))
            elif child.tag == "component":
                self._top_component(child, out)

    # groups --------------------------------------------------------------------------------------
    def _group(self, group: ET.Element, gr: bool) -> str:
        """A group whose entries use required flag ``gr``; written with required=gr."""
        out: list[str] = [f"<group{_attrs(group, required=_yn(gr))}>"]
        first = True
        for child in group:
            if child.tag == "field":
                out.append(f"<field{_attrs(child)}/>")
            elif child.tag == "group":
                out.append(self._group(child, _req(child)))
            elif child.tag == "component":
                self._group_component(child, gr, first, out)
            else:
                continue
            first = False
        out.append("</group>")
        return "".join(out)

    def _group_component(self, ref: ET.Element, gr: bool, first: bool, out: list[str]) -> None:
        """A component directly in a group: members never required; QuickFIX's delimiter rule and
        the nested-component quirk decide whether it can be written out."""
        try:
            comp = self._component(ref)
            parts: list[str] = []
            direct = [c for c in comp if c.tag in ("field", "group", "component")]
            if first and (not direct or direct[0].tag == "component"):
                raise _Keep(ref.get("name", ""))   # its delimiter is not its first written field
            for child in direct:
                if child.tag == "field":
                    parts.append(f"<field{_attrs(child, required='N')}/>")
                elif child.tag == "group":
                    own = _req(child)
                    if own and gr:   # count not required, entries required: needs a component
                        self._wrap(self._group(child, own), parts)
                    else:
                        parts.append(self._group(child, own))
                elif _nested_marks_required(self, child):
                    raise _Keep(ref.get("name", ""))
                else:
                    self._inner_component(child, gr, parts)
        except _Keep:
            self._keep(ref, out)
            return
        out.extend(parts)

    def _inner_component(self, ref: ET.Element, gr: bool, out: list[str]) -> None:
        """A component nested in a component in a group, known to mark nothing required."""
        comp = self._component(ref)
        for child in comp:
            if child.tag == "field":
                out.append(f"<field{_attrs(child, required='N')}/>")
            elif child.tag == "group":
                own = _req(child)
                if own and gr:
                    self._wrap(self._group(child, own), out)
                else:
                    out.append(self._group(child, own))
            elif child.tag == "component":
                self._inner_component(child, gr, out)


class _Keep(Exception):
    """This component reference must stay a reference (see _Compiler)."""


def _nested_marks_required(compiler: _Compiler, ref: ET.Element) -> bool:
    """Whether a component nested in a group's component makes QuickFIX mark a field required in
    the message's top-level dictionary (its own required flag and a required child), at any depth."""
    comp = compiler.components.get(ref.get("name", ""))
    if comp is None:
        return True
    for child in comp:
        if child.tag in ("field", "group") and _req(child) and _req(ref):
            return True
        if child.tag == "component" and _nested_marks_required(compiler, child):
            return True
    return False


# -- the compiled files on disk -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Parts:
    """A compiled dictionary in pieces, enough to write the whole file or a one-message file."""

    head: str                                        # the <fix ...> start tag
    fields: str                                      # <fields> as in the source
    fields_bare: str                                 # <fields> without <value> enums
    header: str
    trailer: str
    messages: dict[str, tuple[str, tuple[str, ...]]]   # msgtype -> (XML, components it needs)
    components: dict[str, str]                       # kept and wrapper components -> XML


def _compile(path: Path) -> _Parts:
    parse_counts[str(path)] += 1
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DictionaryError(f"cannot read dictionary {path}: {exc}") from exc
    compiler = _Compiler(root)
    texts: dict[str, str] = {}
    section = root.find("messages")
    for message in section if section is not None else ():
        if message.tag == "message":   # a type written twice is two elements to QuickFIX too
            msg_type = message.get("msgtype", "")
            texts[msg_type] = texts.get(msg_type, "") + compiler.message(message)
    header, trailer = _section(root, "header"), _section(root, "trailer")
    always = set(_refs(header + trailer))   # written as they are: their components stay references
    for name in always:
        compiler._keep_closure(name)
    components = {name: ET.tostring(compiler.components[name], encoding="unicode").strip()
                  for name in compiler.kept}
    for name, body in compiler.wrapper_bodies.items():
        components[name] = f'<component name="{name}">{body}</component>'
    fields = root.find("fields")
    bare = ET.Element("fields")
    for fld in fields if fields is not None else ():
        bare.append(ET.Element(fld.tag, fld.attrib))
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in root.attrib.items())
    return _Parts(
        head=f"<fix{attrs}>",
        fields=ET.tostring(fields, encoding="unicode").strip() if fields is not None else "",
        fields_bare=ET.tostring(bare, encoding="unicode"),
        header=header,
        trailer=trailer,
        messages={t: (text, _closure(always | set(_refs(text)), components)) for t, text in texts.items()},
        components=components,
    )


_REF = re.compile(r'<component\b[^>]*?\bname="([^"]+)"')


def _refs(text: str) -> list[str]:
    return _REF.findall(text)


def _section(root: ET.Element, name: str) -> str:
    elem = root.find(name)
    return ET.tostring(elem, encoding="unicode").strip() if elem is not None else ""


def _closure(names: Iterable[str], components: dict[str, str]) -> tuple[str, ...]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        todo += _refs(components[name].split(">", 1)[1])
    return tuple(sorted(seen))


def _document(parts: _Parts, msg_types: Iterable[str], *, bare: bool) -> str:
    chosen = [t for t in msg_types if t in parts.messages]
    needed = sorted({c for t in chosen for c in parts.messages[t][1]})
    return "".join([
        '<?xml version="1.0" encoding="UTF-8"?>\n', parts.head, parts.header, parts.trailer,
        "<messages>", *(parts.messages[t][0] for t in chosen), "</messages>",
        "<components>", *(parts.components[c] for c in needed), "</components>",
        parts.fields_bare if bare else parts.fields, "</fix>\n",
    ])


def cache_dir() -> Path:
    """Where compiled dictionaries are written (created on demand, private to this user)."""
    explicit = os.environ.get(_CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "plxtra-fix" / "dictionaries"


def writable_cache_dir() -> Path | None:
    """:func:`cache_dir`, or a private directory under the system's temporary one, created on
    demand; None when neither is writable (callers then do without a cache)."""
    return _writable_dir()


def _writable_dir() -> Path | None:
    for directory in (cache_dir(), Path(tempfile.gettempdir()) / f"plxtra-fix-dictionaries-{os.getuid()}"):
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if directory.stat().st_uid == os.getuid() and os.access(directory, os.W_OK):
                return directory
        except OSError:
            continue
    return None


_compiled_lock = threading.Lock()
_parts: dict[str, _Parts] = {}   # source digest -> parts, while this process still needs them


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    except OSError as exc:
        raise DictionaryError(f"cannot read dictionary {path}: {exc}") from exc


def _cached_file(source: Path, suffix: str, make: Callable[[_Parts], str]) -> Path:
    """``<cache>/<stem>-<digest>-c<N><suffix>.xml``, written from the source's parts if missing."""
    digest = _digest(source)
    directory = _writable_dir()
    if directory is None:
        log.warning("no writable cache for compiled FIX dictionaries; QuickFIX reads %s as it is", source)
        return source
    target = directory / f"{source.stem}-{digest}-c{_COMPILER_VERSION}{suffix}.xml"
    if target.is_file():
        return target
    with _compiled_lock:
        if target.is_file():
            return target
        parts = _parts.get(digest)
        if parts is None:
            parts = _parts[digest] = _compile(source)
        text = make(parts)
        # another process may be writing the same file: each writes its own and renames it
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return target


def compiled_dictionary(source: str | os.PathLike[str]) -> Path:
    """The compiled copy of ``source`` for QuickFIX (same dictionary, read much faster)."""
    path = Path(source)
    return _cached_file(path, "", lambda parts: _document(parts, parts.messages, bare=False))


def message_dictionary(source: str | os.PathLike[str], msg_type: str) -> Path:
    """A dictionary file holding the one message ``msg_type`` of ``source`` (header, trailer and
    the components it needs; fields without their enum values): what a QuickFIX ``Message`` needs
    to structure that message's repeating groups, not to validate it. A type ``source`` does not
    define gets its smallest message (QuickFIX refuses a file with none): no groups, as before.
    Without a writable cache this is ``source`` itself (the caller then parses the whole file once)."""
    path = Path(source)

    def make(parts: _Parts) -> str:
        chosen = msg_type if msg_type in parts.messages else min(
            parts.messages, key=lambda t: len(parts.messages[t][0]), default="")
        return _document(parts, [chosen], bare=True)

    safe = "".join(c if c.isalnum() else f"_{ord(c):x}" for c in msg_type)
    return _cached_file(path, f"-m-{safe}", make)


def release_compiled() -> None:
    """Forget parsed sources kept for further compiled files (call once start-up is done)."""
    with _compiled_lock:
        _parts.clear()


# DataDictionary, TransportDataDictionary, AppDataDictionary and AppDataDictionary.<BeginString>
_DICTIONARY_LINE = re.compile(r"^((?:Transport|App)?DataDictionary(?:\.[^=]*)?)=(.+)$", re.MULTILINE)


def use_compiled_dictionaries(settings_text: str) -> str:
    """``settings_text`` with each dictionary path replaced by its compiled copy (written to the
    cache on first use). A file that cannot be compiled stays as it is: QuickFIX then reads (or
    refuses) it as it would have, with its own error."""
    def swap(match: re.Match[str]) -> str:
        key, path = match.group(1), match.group(2).strip()
        try:
            return f"{key}={compiled_dictionary(path)}"
        except DictionaryError as exc:
            log.warning("%s: using %s as it is (%s)", key, path, exc)
            return match.group(0)

    return _DICTIONARY_LINE.sub(swap, settings_text)
