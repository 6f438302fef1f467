"""Names of FIX values for reports, from the QuickFIX data dictionaries (never a hand-kept table).

Reports say ``Filled`` rather than ``39=2``; when no dictionary can be loaded (no quickfix spec
files on the machine) they fall back to the wire value, so analysis never fails for want of names.
"""

from __future__ import annotations

from gateway.harness.dictionary import FixDictionary, dictionary_for
from gateway.harness.errors import DictionaryError

__all__ = ["Vocabulary"]

_FALLBACK_VERSION = "FIX.4.4"


class Vocabulary:
    """Lazy, cached lookups of message names and enum meanings, per BeginString."""

    def __init__(self, spec_dir: str | None = None) -> None:
        self._spec_dir = spec_dir
        self._dictionaries: dict[str, FixDictionary | None] = {}
        self._cache: dict[tuple[str, int, str], str] = {}

    def dictionary(self, begin_string: str | None) -> FixDictionary | None:
        key = begin_string or _FALLBACK_VERSION
        if key not in self._dictionaries:
            try:
                self._dictionaries[key] = dictionary_for(key, spec_dir=self._spec_dir)
            except DictionaryError:
                self._dictionaries[key] = None
        return self._dictionaries[key]

    def meaning(self, begin_string: str | None, tag: int, value: str | None) -> str:
        """``Filled`` for (39, "2"); the value itself when the dictionary does not know it."""
        if value is None:
            return "-"
        key = (begin_string or _FALLBACK_VERSION, tag, value)
        found = self._cache.get(key)
        if found is None:
            d = self.dictionary(begin_string)
            raw = d.value_meaning(tag, value) if d is not None else None
            found = _title(raw) if raw else value
            self._cache[key] = found
        return found

    def message(self, begin_string: str | None, msg_type: str) -> str:
        """``ExecutionReport`` for ``8``; the MsgType itself when unknown."""
        d = self.dictionary(begin_string)
        name = d.message_name(msg_type) if d is not None else None
        return name or msg_type

    def field(self, begin_string: str | None, tag: int) -> str:
        d = self.dictionary(begin_string)
        name = d.field_name(tag) if d is not None else None
        return name or str(tag)


def _title(description: str) -> str:
    # QuickFIX spec files write enum descriptions as PARTIALLY_FILLED: shown as Partially filled
    if description.isupper() or "_" in description:
        words = description.replace("_", " ").lower()
        return words[:1].upper() + words[1:]
    return description
