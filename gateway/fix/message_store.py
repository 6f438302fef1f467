"""The QuickFIX message store factory of ``gateway.message_store``, for every connector.

``file``: QuickFIX's ``FileStoreFactory`` (``FileStorePath`` of the settings); ``memory``:
``MemoryStoreFactory``; ``postgresql``: QuickFIX's ``PostgreSQLStoreFactory`` on the database of
``gateway.store`` (settings ``PostgreSQLStore*``, rendered by
:mod:`gateway.config.quickfix_settings`), so that another instance taking over finds the
sequence numbers and the resend history there (docs/design/pg-message-store.md).

What ``file`` costs per order (QuickFIX 1.16.0's ``FileStore``, strace of the gateway at 200
orders/s, issue 13): a D received rewrites the ``.seqnums`` file (``lseek`` + ``write``, after
``fromApp``: ``incrNextTargetMsgSeqNum``); an ExecutionReport sent appends to ``.body`` and ``.header``
before its socket write (each ``fseeko(SEEK_END)`` costs glibc an ``fstat``, an ``lseek`` and a
``read`` of the last block, then the ``write`` of its ``fflush``) and rewrites ``.seqnums``: 12
system calls per order, no ``fsync`` (durable against kill -9, not against power loss). None of it
is a setting: ``PersistMessages=N`` would drop the two appends, but a partner's ResendRequest
would then get a gap fill instead of the ExecutionReports, which order sessions must not
(``persist_messages: false`` is for market-data-only sessions); ``memory`` forgets the sequence
numbers at a restart. Only a store of our own (or a patched FileStore) could write one record
per message.

The settings text carries no password (``check-config`` prints it): libpq takes an empty
``PostgreSQLStorePassword`` as "not given" and reads ``PGPASSWORD`` from the environment when each
session's store connects, so the password of ``gateway.store`` is exported there first. QuickFIX
knows no other connection option: those of the URL's query that libpq also reads from the
environment (``?sslmode=require`` ...) are exported the same way; any other reaches only our own
store's connections.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, unquote, urlsplit

import quickfix as fix

from gateway.config.model import GatewaySettings

__all__ = ["export_store_environment", "message_store_factory", "postgresql_available"]

# URL query options of gateway.store -> the libpq environment variable QuickFIX's connections read.
_ENV_OPTIONS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
                "sslkey": "PGSSLKEY", "sslcrl": "PGSSLCRL", "connect_timeout": "PGCONNECT_TIMEOUT",
                "options": "PGOPTIONS", "gssencmode": "PGGSSENCMODE", "channel_binding": "PGCHANNELBINDING"}


def export_store_environment(gw: GatewaySettings) -> None:
    """``PGPASSWORD`` (and the libpq options of the query) from ``gateway.store``'s URL, for
    QuickFIX's connections. A URL without a password leaves ``PGPASSWORD`` alone (``~/.pgpass``
    or a value already set)."""
    if gw.store is None:
        return
    parts = urlsplit(gw.store.url)
    if parts.password is not None:
        os.environ["PGPASSWORD"] = unquote(parts.password)
    for key, value in parse_qsl(parts.query):
        if key in _ENV_OPTIONS:
            os.environ[_ENV_OPTIONS[key]] = value


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
        export_store_environment(gw)
        try:
            return fix.PostgreSQLStoreFactory(settings)
        except fix.ConfigError as exc:
            # A QuickFIX error, so that the engine's start cleans up as for any refused setting.
            raise fix.ConfigError("message_store postgresql needs quickfix built with PostgreSQL "
                                  "(HAVE_POSTGRESQL): run deploy/build-quickfix-ssl.sh or ./dev.sh") from exc
    return fix.MemoryStoreFactory()
