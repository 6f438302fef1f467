"""The bridge: translation between FIX and Zenith, free of I/O (ARCHITECTURE §2, STYLE "bridge").

Orders: :mod:`.orders_model` (records), :mod:`.orders_mapping` (FIX requests -> checked records),
:mod:`.orders_zenith` (records -> Zenith requests; Zenith refusals -> FIX rejects),
:mod:`.orders_flow` (Plxtra events -> order record + ExecutionReports, ExecIDs),
:mod:`.orders_state` (the per-order state table), :mod:`.orders_exec` (FIX answers per version),
:mod:`.orders_queries` (status / mass status / mass cancel answers), :mod:`.orders_throttle`.
Market data: ``marketdata*.py`` and ``book.py``.
Tag numbers and wire enums: :mod:`.fixtags`. Errors: :mod:`.errors`.
"""

__all__: list[str] = []
