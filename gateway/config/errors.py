"""Errors of the configuration part.

    GatewayError
    └── ConfigError            one or more problems in a configuration file (file, line, key)
        └── DictionaryNotFound the QuickFIX data dictionaries could not be located

A ``ConfigError`` names the first problem in its attributes and carries every problem found in
``errors`` (the loader reports all of them at once, so an operator fixes a file in one pass).
``str(error)`` is one ``file:line: key: reason`` line per problem, ready for stderr.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import GatewayError

__all__ = ["ConfigError", "DictionaryNotFound"]


class ConfigError(GatewayError):
    """A configuration problem, located as precisely as the source allows.

    ``file`` is the path as the caller gave it (or None for an in-memory text), ``line`` is
    1-based (None when the problem is not tied to a line), ``key`` is the dotted path of the
    setting such as ``sessions[1].accounts[0]`` (None for file-level problems).
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        errors: Sequence[ConfigError] = (),
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.key = key
        self.errors: tuple[ConfigError, ...] = tuple(errors) or (self,)
        super().__init__(self._format_all())

    @classmethod
    def combine(cls, errors: Sequence[ConfigError]) -> ConfigError:
        """One error standing for several: the first one's location, every line in ``str``."""
        if not errors:
            raise ValueError("combine() needs at least one error")
        first = errors[0]
        if len(errors) == 1:
            return first
        return cls(first.reason, file=first.file, line=first.line, key=first.key, errors=errors)

    def format_one(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file + (f":{self.line}" if self.line is not None else "") + ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.reason}"

    def _format_all(self) -> str:
        if self.errors == (self,):
            return self.format_one()
        return "\n".join(e.format_one() for e in self.errors)


class DictionaryNotFound(ConfigError):
    """QuickFIX's XML data dictionaries are not where we looked; ``searched`` lists the places."""

    def __init__(self, reason: str, *, searched: Sequence[str] = (), missing: Sequence[str] = ()) -> None:
        self.searched = tuple(searched)
        self.missing = tuple(missing)
        super().__init__(reason, key="gateway.data_dictionary_dir")
