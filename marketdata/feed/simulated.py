"""Simulated ticks for demos and `make run` without Angel One credentials.

Each instrument takes a random walk (about 0.03% per step for indices, stocks and futures,
0.2% for an option's premium; rounded to its tick size) around a plausible level, with the
day's open/high/low, the previous close, a growing volume and a sequence number, one tick per
instrument every `interval` seconds. Like the broker, it is silent outside the exchange's
session (same calendar as ingestion) unless `ignore_market_hours` is set; while silent its
state is "waiting".

Plausible levels (`plausible_level`): the six indices at their usual levels; an option at
its intrinsic value plus a time value that fades away from the money, from its underlying's
level (the index its symbol or name starts with, else its strike); a future at its
underlying's level; anything else (stocks) at a level between 50 and 5,000 fixed by its
symbol. With `follow_demand` it streams exactly the demanded instruments, in their modes
(`ltp` sends the price only), following the demand at runtime (feed/base.py).
"""

import asyncio
import math
import random
import zlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from asgiref.sync import sync_to_async

from marketdata.demand import Demand
from marketdata.feed.base import DemandFollower, FollowsDemand, task_stop
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
STEP_SIGMA = 0.0003
OPTION_STEP_SIGMA = 0.002
TICK_SIZE = 0.05
# An option's time value: this share of its underlying at the money, fading with the distance
# from the money over this share of the underlying.
TIME_VALUE_SHARE = 0.008
TIME_VALUE_FADE = 0.04
STOCK_LEVELS = (50.0, 5000.0)
CLOSED_POLL_SECONDS = 5.0


def _utcnow() -> datetime:
    return datetime.now(tz=UTC)


def _underlying_level(instrument: Instrument) -> float | None:
    name = instrument.name.strip().upper()
    if name in LEVELS:
        return LEVELS[name]
    codes = [code for code in LEVELS if instrument.symbol.upper().startswith(code)]
    return LEVELS[max(codes, key=len)] if codes else None


def _is_option(instrument: Instrument) -> bool:
    return instrument.instrument_type.upper().startswith("OPT") or (
        bool(instrument.strike) and instrument.symbol.upper().endswith(("CE", "PE"))
    )


def plausible_level(instrument: Instrument) -> float:
    """Where an instrument's simulated price starts (see the module's docstring)."""
    if instrument.symbol in LEVELS:
        return LEVELS[instrument.symbol]
    underlying = _underlying_level(instrument)
    strike = instrument.strike or 0.0
    if _is_option(instrument) and strike > 0:
        spot = underlying or strike
        put = instrument.symbol.upper().endswith("PE")
        intrinsic = max(strike - spot, 0.0) if put else max(spot - strike, 0.0)
        fade = math.exp(-abs(spot - strike) / (spot * TIME_VALUE_FADE))
        return max(intrinsic + spot * TIME_VALUE_SHARE * fade, 1.0)
    if underlying is not None:
        return underlying  # a future, or another contract on an index
    low, high = STOCK_LEVELS
    share = zlib.crc32(instrument.symbol.encode()) / 0xFFFFFFFF
    level: float = low * (high / low) ** share
    return round(level, 1)


@dataclass
class _Walk:
    price: float
    previous_close: float
    sigma: float = STEP_SIGMA
    tick_size: float = TICK_SIZE
    day: date | None = None
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    volume: int = 0
    sequence: int = 0


class SimulatedSource(FollowsDemand):
    name = "simulated"

    def __init__(
        self,
        *,
        instruments: Sequence[Instrument],
        mode: str = "quote",
        modes: Mapping[str, str] | None = None,
        follow_demand: bool = False,
        interval: float = 1.0,
        ignore_market_hours: bool = False,
        clock: Callable[[], datetime] = _utcnow,
        seed: int | None = None,
    ) -> None:
        """`modes` maps symbols to their mode where it differs from `mode`."""
        self.instruments = list(instruments)
        self.mode = mode
        self.modes = dict(modes or {})
        self.interval = interval
        self.ignore_market_hours = ignore_market_hours
        self.clock = clock
        self.state = "connecting"
        self.stats = {"ticks": 0}
        self._random = random.Random(seed)
        self._walks: dict[str, _Walk] = {}
        self._sessions: dict[tuple[str, date], TradingSession | None] = {}
        self._follower = (
            DemandFollower(default_mode=mode, apply=self.demand_apply, stats=self.stats)
            if follow_demand
            else None
        )

    def subscriptions_update(self, wanted: Sequence[tuple[Instrument, str]]) -> None:
        """Stream exactly `wanted` (instrument, mode) from the next batch on."""
        self.modes = {instrument.symbol: mode for instrument, mode in wanted}
        self.instruments = [instrument for instrument, _ in wanted]  # one assignment: atomic

    def demand_apply(self, demand: Demand) -> None:
        self.subscriptions_update([(item.instrument, item.mode) for item in demand.instruments])

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        batch_at = sync_to_async(self.batch_at, thread_sensitive=False)
        follower = None
        if self._follower is not None:
            follower = asyncio.create_task(self._follower.run(), name="simulated-demand")
        try:
            while True:
                batch = await batch_at(self.clock())
                self.state = "streaming" if batch else "waiting"
                if batch:
                    yield batch
                await asyncio.sleep(
                    self.interval if batch else min(CLOSED_POLL_SECONDS, self.interval)
                )
        finally:
            if follower is not None:
                await task_stop(follower)

    def batch_at(self, now: datetime) -> list[Tick]:
        """One tick for each instrument whose exchange is open at `now` (all when ignoring hours)."""
        instruments, modes = self.instruments, self.modes
        batch = [
            self._step(instrument, now, modes.get(instrument.symbol, self.mode))
            for instrument in instruments
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

    @staticmethod
    def _walk_start(instrument: Instrument) -> _Walk:
        tick_size = (
            instrument.tick_size if instrument.tick_size and instrument.tick_size > 0 else TICK_SIZE
        )
        level = round(round(plausible_level(instrument) / tick_size) * tick_size, 2) or tick_size
        sigma = OPTION_STEP_SIGMA if _is_option(instrument) else STEP_SIGMA
        return _Walk(price=level, previous_close=level, sigma=sigma, tick_size=tick_size)

    def _step(self, instrument: Instrument, now: datetime, mode: str) -> Tick:
        walk = self._walks.get(instrument.symbol)
        if walk is None:
            walk = self._walks[instrument.symbol] = self._walk_start(instrument)
        day = now.astimezone(IST).date()
        if walk.day != day:
            walk.previous_close, walk.day = walk.price, day
            walk.open = walk.high = walk.low = walk.price
            walk.volume = 0
        move = math.exp(self._random.gauss(0.0, walk.sigma))
        size = walk.tick_size
        walk.price = max(round(round(walk.price * move / size) * size, 2), size)
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
        if mode != "ltp":
            tick.open, tick.high, tick.low = walk.open, walk.high, walk.low
            tick.close, tick.volume = walk.previous_close, walk.volume
        return tick
