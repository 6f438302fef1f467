"""The QuickFIX message store factory of ``gateway.message_store``, for every connector.

``file``: QuickFIX's ``FileStoreFactory`` (``FileStorePath`` of the settings); ``memory``:
``MemoryStoreFactory``; ``postgresql``: QuickFIX's ``PostgreSQLStoreFactory`` on the database of
``gateway.store`` (settings ``PostgreSQLStore*``, rendered by
:mod:`gateway.config.quickfix_settings`), so that another instance taking over finds the
sequence numbers and the resend history there (docs/design/pg-message-store.md).

The settings text carries no password (``check-config`` prints it): libpq takes an empty
``PostgreSQLStorePassword`` as "not given" and reads ``PGPASSWORD`` from the environment when each
session's store connects, so the password of ``gateway.store`` is exported there first.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import quickfix as fix

from gateway.config.model import GatewaySettings

__all__ = ["export_store_password", "message_store_factory", "postgresql_available"]


def export_store_password(gw: GatewaySettings) -> None:
    """``PGPASSWORD`` from ``gateway.store``'s URL, for QuickFIX's libpq connections. A URL
    without a password leaves the environment alone (``~/.pgpass`` or a PGPASSWORD already set)."""
    if gw.store is None:
        return
    password = urlsplit(gw.store.url).password
    if password is not None:
        os.environ["PGPASSWORD"] = unquote(password)


def postgresql_available() -> bool:
    """True when the installed quickfix has the real PostgreSQL store (HAVE_POSTGRESQL): the
    PyPI build's stub refuses to be constructed."""
    settings = fix.SessionSettings()
    try:
        fix.PostgreSQLStoreFactory(settings)
    except fix.ConfigError:
        return False
    return True


def message_store_factory(gw: GatewaySettings, settings: fix.SessionSettings) -> object:
    """The store factory of ``gw.message_store`` reading ``settings``. QuickFIX keeps a raw
    pointer to it: the caller keeps it alive as long as the connector."""
    if gw.message_store == "file":
        return fix.FileStoreFactory(settings)
    if gw.message_store == "postgresql":
        export_store_password(gw)
        try:
            return fix.PostgreSQLStoreFactory(settings)
        except fix.ConfigError as exc:
            # A QuickFIX error, so that the engine's start cleans up as for any refused setting.
            raise fix.ConfigError("message_store postgresql needs quickfix built with PostgreSQL "
                                  "(HAVE_POSTGRESQL): run deploy/build-quickfix-ssl.sh or ./dev.sh") from exc
    return fix.MemoryStoreFactory()
