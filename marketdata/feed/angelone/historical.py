"""Angel One's historical candles (`getCandleData`), through the same login as the live feed."""

from typing import Any

from marketdata.feed.angelone.session import SmartApiClient
from marketdata.feed.errors import AngelOneSessionError, FeedError


class HistoricalClient(SmartApiClient):
    """The feed's SmartAPI client plus historical candles; one login per client."""

    def candles(self, *, params: dict[str, str]) -> list[list[Any]]:
        if self._smart is None:
            raise AngelOneSessionError("not logged in")
        answer = self._call(self._smart.getCandleData, params)
        if not answer.get("status"):
            raise FeedError(f"getCandleData refused: {answer.get('message') or 'no message'}")
        return answer.get("data") or []
