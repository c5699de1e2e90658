"""Simulated ticks for demos and `make run` without Angel One credentials.

Each instrument takes a random walk (about 0.03% per step, rounded to the 0.05 tick size)
around a plausible level, with the day's open/high/low, the previous close, a growing volume
and a sequence number, one tick per instrument every `interval` seconds. Like the broker, it
is silent outside the exchange's session (same calendar as ingestion) unless
`ignore_market_hours` is set; while silent its state is "waiting".
"""

import asyncio
import math
import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from asgiref.sync import sync_to_async

from marketdata.market_calendar import IST, TradingSession, market_session
from marketdata.models import Instrument
from marketdata.ticks import Tick

LEVELS = {
    "NIFTY": 24500.0,
    "BANKNIFTY": 52000.0,
    "FINNIFTY": 23500.0,
    "MIDCPNIFTY": 12500.0,
    "SENSEX": 80500.0,
    "BANKEX": 59000.0,
}
DEFAULT_LEVEL = 1000.0
STEP_SIGMA = 0.0003
TICK_SIZE = 0.05
CLOSED_POLL_SECONDS = 5.0


def _utcnow() -> datetime:
    return datetime.now(tz=UTC)


@dataclass
class _Walk:
    price: float
    previous_close: float
    day: date | None = None
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    volume: int = 0
    sequence: int = 0


class SimulatedSource:
    name = "simulated"

    def __init__(
        self,
        *,
        instruments: Sequence[Instrument],
        mode: str = "quote",
        interval: float = 1.0,
        ignore_market_hours: bool = False,
        clock: Callable[[], datetime] = _utcnow,
        seed: int | None = None,
    ) -> None:
        self.instruments = list(instruments)
        self.mode = mode
        self.interval = interval
        self.ignore_market_hours = ignore_market_hours
        self.clock = clock
        self.state = "connecting"
        self.stats = {"ticks": 0}
        self._random = random.Random(seed)
        self._walks = {i.symbol: self._walk_start(i.symbol) for i in self.instruments}
        self._sessions: dict[tuple[str, date], TradingSession | None] = {}

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        batch_at = sync_to_async(self.batch_at, thread_sensitive=False)
        while True:
            batch = await batch_at(self.clock())
            self.state = "streaming" if batch else "waiting"
            if batch:
                yield batch
            await asyncio.sleep(self.interval if batch else min(CLOSED_POLL_SECONDS, self.interval))

    def batch_at(self, now: datetime) -> list[Tick]:
        """One tick for each instrument whose exchange is open at `now` (all when ignoring hours)."""
        batch = [
            self._step(instrument, now)
            for instrument in self.instruments
            if self.ignore_market_hours or self._open(instrument.exchange, now)
        ]
        self.stats["ticks"] += len(batch)
        return batch

    def _open(self, exchange: str, now: datetime) -> bool:
        key = (exchange, now.astimezone(IST).date())
        if key not in self._sessions:
            self._sessions[key] = market_session(exchange=exchange, day=key[1])
        session = self._sessions[key]
        return session is not None and session.contains(now)

    def _walk_start(self, symbol: str) -> _Walk:
        level = LEVELS.get(symbol, DEFAULT_LEVEL)
        return _Walk(price=level, previous_close=level)

    def _step(self, instrument: Instrument, now: datetime) -> Tick:
        walk = self._walks[instrument.symbol]
        day = now.astimezone(IST).date()
        if walk.day != day:
            walk.previous_close, walk.day = walk.price, day
            walk.open = walk.high = walk.low = walk.price
            walk.volume = 0
        move = math.exp(self._random.gauss(0.0, STEP_SIGMA))
        walk.price = round(round(walk.price * move / TICK_SIZE) * TICK_SIZE, 2)
        walk.high, walk.low = max(walk.high, walk.price), min(walk.low, walk.price)
        walk.volume += self._random.randint(1_000, 50_000)
        walk.sequence += 1
        tick = Tick(
            token=instrument.token,
            symbol=instrument.symbol,
            ltpc=walk.price,
            # Millisecond precision: the unique (symbol, received_at) key is built at ms on every backend.
            received_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
            exchange=instrument.exchange,
            exchange_type=instrument.exchange_type,
            source=self.name,
            sequence=walk.sequence,
        )
        if self.mode != "ltp":
            tick.open, tick.high, tick.low = walk.open, walk.high, walk.low
            tick.close, tick.volume = walk.previous_close, walk.volume
        return tick
