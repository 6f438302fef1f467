"""Durable state of the gateway (ARCHITECTURE §2 ``store``): ClOrdID chains to Plxtra order IDs,
decisions, execution IDs already sent, messages not yet confirmed sent, RequestID allocation.

The state lives in memory; each write is one atomic unit appended to a write-ahead journal, all
units of one event-loop turn with one ``write()`` before anything that depends on them leaves
(:meth:`Store.after_commit`, :meth:`Store.durable`); the SQLite file is brought up to date from the
journal off the order path (``orders_store`` explains the whole cycle).
"""

from gateway.store.errors import DuplicateClOrdID, StoreError
from gateway.store.orders_store import Store, open_store, store_path_of

__all__ = ["DuplicateClOrdID", "Store", "StoreError", "open_store", "store_path_of"]
