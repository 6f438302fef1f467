"""The bridge: translation between FIX and Zenith, free of I/O (ARCHITECTURE §2, STYLE "bridge").

Orders (:mod:`.orders`): ``model`` (records), ``mapping`` (FIX requests -> checked records),
``zenith_requests`` (records -> Zenith requests; Zenith refusals -> FIX rejects), ``flow`` (Plxtra
events -> order record + ExecutionReports, ExecIDs), ``state`` (the per-order state table),
``reports`` (FIX answers per version), ``queries`` (status / mass status / mass cancel answers).
Plxtra's orders and transactions come in as the one Zenith payload model,
:mod:`gateway.zenith.records` (pure records, parsed once by the caller where a payload arrives).
Market data (:mod:`.marketdata`): requests, subscription state, views, books, messages.
Tag numbers and wire enums: :mod:`gateway.vocab.tags`. Errors: :mod:`.errors`.
"""

__all__: list[str] = []
