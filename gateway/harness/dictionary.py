"""The harness's names for the one dictionary reader, :mod:`gateway.vocab.dictionary`.

Kept so that harness code and its users import what they always imported. The reader raises
``gateway.vocab.dictionary.DictionaryError``; these wrappers raise the harness's
:class:`~gateway.harness.errors.DictionaryError` (a ``HarnessError``) instead, which is what the
harness's callers catch.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.harness.errors import DictionaryError
from gateway.vocab import dictionary as _reader
from gateway.vocab.dictionary import FixDictionary, GroupLayout, SpecFile

__all__ = [
    "FixDictionary",
    "GroupLayout",
    "SpecFile",
    "dictionary_for",
    "find_spec_dir",
    "load_dictionary",
    "load_spec",
]


def find_spec_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    try:
        return _reader.find_spec_dir(explicit)
    except _reader.DictionaryError as exc:
        raise DictionaryError(str(exc)) from exc


def load_spec(name: str, spec_dir: str | os.PathLike[str] | None = None) -> SpecFile:
    try:
        return _reader.load_spec(name, spec_dir)
    except _reader.DictionaryError as exc:
        raise DictionaryError(str(exc)) from exc


def load_dictionary(
    begin_string: str, appl_ver_id: str | None = None, spec_dir: str | os.PathLike[str] | None = None
) -> FixDictionary:
    try:
        return _reader.load_dictionary(begin_string, appl_ver_id, spec_dir)
    except _reader.DictionaryError as exc:
        raise DictionaryError(str(exc)) from exc


def dictionary_for(
    begin_string: str,
    appl_ver_id: str | None = None,
    default_appl_ver_id: str | None = None,
    spec_dir: str | os.PathLike[str] | None = None,
) -> FixDictionary:
    try:
        return _reader.dictionary_for(begin_string, appl_ver_id, default_appl_ver_id, spec_dir)
    except _reader.DictionaryError as exc:
        raise DictionaryError(str(exc)) from exc
