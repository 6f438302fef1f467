"""Market-data tags that :mod:`gateway.vocab.tags` does not name (yet).

Numbers from the FIX 4.2 / 4.4 / 5.0SP2 dictionaries; every other tag the market-data modules
use comes from ``fixtags``. (Candidates for fixtags: the orders engineer owns that file.)
"""

from __future__ import annotations

__all__ = [
    "CFI_CODE",
    "HIGH_PX",
    "LAST_UPDATE_TIME",
    "LOW_PX",
    "MARKET_DEPTH",
    "MD_UPDATE_TYPE",
    "SECURITY_DESC",
    "SECURITY_REQUEST_TYPE",
    "SECURITY_RESPONSE_TYPE",
]

MARKET_DEPTH = 264
MD_UPDATE_TYPE = 265
SECURITY_DESC = 107
HIGH_PX = 332
LOW_PX = 333
SECURITY_REQUEST_TYPE = 321
SECURITY_RESPONSE_TYPE = 323
CFI_CODE = 461
LAST_UPDATE_TIME = 779  # required in FIX 5.0SP2 W by the QuickFIX dictionary
