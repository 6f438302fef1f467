"""``--session`` values, as typed in a shell. No I/O.

``SENDER->TARGET`` needs quoting (unquoted, the shell reads ``>`` as a redirect and creates a file),
so ``SENDER:TARGET`` means the same; either may follow a BeginString: ``FIX.4.4:A->B``, ``FIX.4.4:A:B``.
"""

from __future__ import annotations

import re

__all__ = ["normalize_session", "parse_session"]

_BEGIN = re.compile(r"(FIXT?\.\d\.\d(?:SP\d)?):(.*)", re.DOTALL)


def parse_session(text: str) -> tuple[str | None, str, str]:
    """(BeginString or None, sender, target); raises ValueError naming the accepted forms."""
    begin, rest = None, text.strip()
    m = _BEGIN.fullmatch(rest)
    if m is not None:
        begin, rest = m.group(1), m.group(2)
    if "->" in rest:
        sender, target = rest.split("->", 1)
    elif rest.count(":") == 1:
        sender, target = rest.split(":", 1)
    else:
        raise ValueError(f"{text!r}: expected SENDER:TARGET or SENDER->TARGET, optionally after "
                         "BEGINSTRING: (e.g. FIX.4.4:CLIENT1:PLXTRA)")
    sender, target = sender.strip(), target.strip()
    if not sender or not target:
        raise ValueError(f"{text!r}: a CompID is empty")
    return begin, sender, target


def normalize_session(text: str) -> str:
    """``A:B`` -> ``A->B`` (with its BeginString kept); anything else (a lone CompID) unchanged."""
    try:
        begin, sender, target = parse_session(text)
    except ValueError:
        return text
    return f"{begin + ':' if begin else ''}{sender}->{target}"
