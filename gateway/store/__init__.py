"""SQLite state of the gateway (ARCHITECTURE §2 ``store``): ClOrdID chains to Plxtra order IDs,
execution IDs already sent, messages deferred for logged-out sessions, RequestID allocation.

Methods are named for intent; each is one atomic unit, committed on its own or, with group
commit, together with the other units of the same event-loop turn (on the loop thread).
"""

from gateway.store.errors import DuplicateClOrdID, StoreError
from gateway.store.orders_store import Store, open_store, store_path_of

__all__ = ["DuplicateClOrdID", "Store", "StoreError", "open_store", "store_path_of"]
