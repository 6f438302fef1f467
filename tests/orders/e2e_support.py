"""What the end-to-end order tests share: the partners of the demo config, a simulator in its
own thread (``sim``, in conftest.py), and order builders for FIX and for Zenith."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.sim.testing import SimHandle
from gateway.zenith import ZenithClient

__all__ = ["CLIENTS", "NOW", "book", "new_order"]

NOW = "<now>"
CLIENTS = {  # begin string -> (partner CompID, account alias, default ApplVerID)
    "FIX.4.2": ("CLIENT2", "0003", None),
    "FIX.4.4": ("CLIENT1", "0001", None),
    "FIXT.1.1": ("CLIENT3", "0004", "FIX.5.0SP2"),
}


def book(sim: SimHandle, account: str, side: str, qty: int, px: str, symbol: str) -> None:
    """Rest or cross an order from an account outside the gateway, through Zenith."""

    async def place() -> Any:
        client = ZenithClient(sim.url, "demo", request_timeout=5.0)
        await client.start()
        try:
            return await client.request(
                "Trading",
                "PlaceOrder",
                {
                    "Account": account,
                    "Details": {
                        "Exchange": "XSX",
                        "Code": symbol,
                        "Side": side,
                        "Style": "Market",
                        "Type": "Limit",
                        "LimitPrice": Decimal(px),
                        "Quantity": qty,
                        "Validity": "UntilDay",
                    },
                    "Route": {"Algorithm": "Market", "Market": "XSX::XSX"},
                },
            )
        finally:
            await client.close()

    result = sim.call(place)
    assert result["Result"] == "Success", result


def new_order(cl: str, account: str, side: str, qty: int, px: str, symbol: str) -> list[tuple[int, object]]:
    return [
        (11, cl),
        (1, account),
        (21, "1"),
        (55, symbol),
        (207, "XSX"),
        (54, side),
        (38, qty),
        (40, "2"),
        (44, px),
        (59, "0"),
        (60, NOW),
    ]
