"""Typed reading of YAML nodes, remembering where every value came from.

The loader walks the node tree from ``yaml.compose`` instead of the constructed Python objects
because only nodes keep their line numbers, and because the raw scalar text is what an operator
wrote: YAML 1.1 would turn ``0001`` into the integer 1 and ``18:00:00`` into 64800, which is never
what a FIX configuration means. Every reader here records problems in a shared list and returns
None, so one pass reports every mistake in a file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gateway.config.errors import ConfigError

__all__ = ["MapReader", "NodeReader", "join_key"]

_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# ${NAME} or ${NAME:-default}; $$ is a literal dollar sign.
_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_INT_TEXT = re.compile(r"[+-]?[0-9][0-9_]*")
_TRUE = frozenset({"true", "yes", "y", "on"})
_FALSE = frozenset({"false", "no", "n", "off"})


def join_key(parent: str, child: str | int) -> str:
    if isinstance(child, int):
        return f"{parent}[{child}]"
    return f"{parent}.{child}" if parent else child


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return repr(node.value)


class NodeReader:
    """Converts scalar nodes to typed values; errors go to ``self.errors`` with file and line."""

    def __init__(self, file_label: str | None, env: Mapping[str, str]) -> None:
        self.file_label = file_label
        self.env = env
        self.errors: list[ConfigError] = []

    # -- reporting -------------------------------------------------------------------------
    def error(self, node: Node | None, key: str | None, reason: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.errors.append(ConfigError(reason, file=self.file_label, line=line, key=key))

    # -- scalars ---------------------------------------------------------------------------
    def text(self, node: Node, key: str) -> str | None:
        """The scalar as written (after ``${VAR}`` substitution); None for null or on error."""
        if not isinstance(node, ScalarNode):
            self.error(node, key, f"expected a single value, got {_describe(node)}")
            return None
        if node.tag == _NULL_TAG and node.style is None:
            return None
        return self._substitute(node, key, node.value)

    def _substitute(self, node: Node, key: str, raw: str) -> str | None:
        missing: list[str] = []

        def replace(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            value = self.env.get(name)
            if value is None:
                if default is not None:
                    return default
                missing.append(name)
                return ""
            return value

        result = _ENV_REF.sub(replace, raw)
        if missing:
            names = ", ".join(missing)
            self.error(node, key, f"environment variable {names} is not set "
                                  f"(write ${{{missing[0]}:-default}} to give a default)")
            return None
        return result

    def string(self, node: Node, key: str, *, allow_empty: bool = False) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG and node.style is None:
            self.error(node, key, "has no value (write one, or remove the key to use the default)")
            return None
        value = self.text(node, key)
        if value is None:
            return None
        value = value.strip()
        if not value and not allow_empty:
            self.error(node, key, "must not be empty")
            return None
        return value

    def choice(self, node: Node, key: str, choices: Iterable[str]) -> str | None:
        value = self.string(node, key)
        if value is None:
            return None
        options = list(choices)
        if value in options:
            return value
        lowered = {o.lower(): o for o in options}
        if value.lower() in lowered:
            return lowered[value.lower()]
        self.error(node, key, f"{value!r} is not one of {', '.join(options)}{suggest(value, options)}")
        return None

    def integer(self, node: Node, key: str, *, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        value = self.string(node, key)
        if value is None:
            return None
        if not _INT_TEXT.fullmatch(value):
            self.error(node, key, f"expected a whole number, got {value!r}")
            return None
        number = int(value.replace("_", ""), 10)
        if minimum is not None and number < minimum:
            self.error(node, key, f"must be at least {minimum}, got {number}")
            return None
        if maximum is not None and number > maximum:
            self.error(node, key, f"must be at most {maximum}, got {number}")
            return None
        return number

    def decimal(self, node: Node, key: str, *, positive: bool = True) -> Decimal | None:
        """A Decimal read from the text itself, so ``0.1`` never passes through a binary float."""
        value = self.string(node, key)
        if value is None:
            return None
        try:
            number = Decimal(value.replace("_", ""))
        except InvalidOperation:
            self.error(node, key, f"expected a number, got {value!r}")
            return None
        if not number.is_finite():
            self.error(node, key, f"must be a finite number, got {value!r}")
            return None
        if positive and number <= 0:
            self.error(node, key, f"must be greater than zero, got {value}")
            return None
        return number

    def boolean(self, node: Node, key: str) -> bool | None:
        value = self.string(node, key)
        if value is None:
            return None
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.error(node, key, f"expected true or false, got {value!r}")
        return None

    # -- containers ------------------------------------------------------------------------
    def sequence(self, node: Node, key: str) -> list[Node] | None:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return []
        if not isinstance(node, SequenceNode):
            self.error(node, key, f"expected a list, got {_describe(node)}")
            return None
        return list(node.value)

    def mapping(self, node: Node, key: str, allowed: Iterable[str], *,
                extension_prefix: str | None = None) -> MapReader | None:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return MapReader(self, None, key, allowed)
        if not isinstance(node, MappingNode):
            self.error(node, key or None, f"expected a mapping of settings, got {_describe(node)}")
            return None
        return MapReader(self, node, key, allowed, extension_prefix=extension_prefix)


def suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    if not close:
        close = [o for o in options if o.lower() == word.lower()]
    return f" (did you mean {close[0]!r}?)" if close else ""


class MapReader:
    """The keys of one YAML mapping: unknown and duplicate keys are reported when built.

    YAML merge keys (``<<: *defaults``) are honoured: merged settings come first and keys written
    in the mapping itself override them, so sessions can share settings through an anchor.
    """

    def __init__(self, reader: NodeReader, node: MappingNode | None, key: str,
                 allowed: Iterable[str], *, extension_prefix: str | None = None) -> None:
        self.reader = reader
        self.extension_prefix = extension_prefix
        self.node = node
        self.key = key
        self.allowed = tuple(allowed)
        self.items: dict[str, tuple[Node, Node]] = {}
        if node is not None:
            self._collect(node, merged=False, seen=set())

    def _collect(self, node: MappingNode, *, merged: bool, seen: set[int]) -> None:
        if id(node) in seen:   # an anchor merged into itself
            return
        seen.add(id(node))
        merges: list[Node] = []
        own: dict[str, Node] = {}   # key -> its key node, for duplicates within this mapping
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.reader.error(key_node, self.key or None, "keys must be plain names")
                continue
            name = key_node.value
            full = join_key(self.key, name)
            if self.extension_prefix and name.startswith(self.extension_prefix):
                continue   # x-... blocks hold YAML anchors for sharing, like docker-compose's
            if name not in self.allowed:
                self.reader.error(key_node, full, f"unknown key{suggest(name, self.allowed)}")
                continue
            if name in own:
                first_line = own[name].start_mark.line + 1
                self.reader.error(key_node, full, f"duplicate key (first given on line {first_line})")
                continue
            own[name] = key_node
            if merged and name in self.items:
                continue   # written in the mapping itself, or in an earlier merge: that one wins
            self.items[name] = (key_node, value_node)
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if isinstance(source, MappingNode):
                    self._collect(source, merged=True, seen=seen)
                else:
                    self.reader.error(source, self.key or None, "'<<' must merge a mapping")

    def __contains__(self, name: str) -> bool:
        return name in self.items

    def get(self, name: str) -> tuple[Node, str] | None:
        """(value node, full key) for a setting that is present, else None."""
        if name not in self.items:
            return None
        return self.items[name][1], join_key(self.key, name)
