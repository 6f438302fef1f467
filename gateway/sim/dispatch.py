"""Action and subscription tables of the simulator (who answers which Controller/Topic, with which scope).

Handler modules register with :func:`action` and :func:`subscription` at import. An action handler is
``fn(server, session, data) -> result`` (``ABSENT`` = no response body, spec §1.6) and raises
:class:`ActionError` with an Appendix D code (spec §7.D) or ``DataError`` (``Data.Deserialise``).
A subscription is ``snapshot(server, session, argument) -> first publish`` (or ``ABSENT``), raising
ActionError to fail the Sub (spec §1.7.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTIONS",
    "CONTROLLERS",
    "SUBSCRIPTIONS",
    "ActionError",
    "ActionSpec",
    "SubSpec",
    "action",
    "subscription",
]

# Controllers the simulator knows (spec §1.4); anything else is answered ``Controller {name}``.
CONTROLLERS = frozenset(
    {"Zenith", "Auth", "Market", "Trading", "News", "Watchlist", "Notify", "Channel", "Fragments"}
)


class ActionError(Exception):
    """An Appendix D error: answered as one ``Error`` container with ``Data`` = ``code``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class ActionSpec:
    fn: Callable[..., Any]
    scope: str | None  # required access right (spec §2.2), None = any authenticated session
    needs_data: bool  # answered ``Data`` when invoked without data
    public: bool  # allowed before authentication (Auth controller, Zenith info)


@dataclass(frozen=True, slots=True)
class SubSpec:
    snapshot: Callable[..., Any]
    scope: str | None
    public: bool
    takes_argument: bool | None  # True: ``Name!arg`` required; False: no argument; None: optional


ACTIONS: dict[tuple[str, str], ActionSpec] = {}
SUBSCRIPTIONS: dict[tuple[str, str], SubSpec] = {}


def action(
    controller: str, *topics: str, scope: str | None = None, needs_data: bool = False, public: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for topic in topics:
            ACTIONS[(controller, topic)] = ActionSpec(fn, scope, needs_data, public)
        return fn

    return register


def subscription(
    controller: str,
    name: str,
    scope: str | None = None,
    public: bool = False,
    takes_argument: bool | None = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        SUBSCRIPTIONS[(controller, name)] = SubSpec(fn, scope, public, takes_argument)
        return fn

    return register
