"""Backfill: fill the session minutes a feed outage left empty, from SmartAPI's 1-minute candles.

For each streamed instrument and each session minute in the range that has no stored tick,
Angel One's historical candle API (`getCandleData`, interval ONE_MINUTE) is asked for the
span from the first to the last missing minute of that session, and each returned candle of
a missing minute becomes four ticks: open at :00, high at :20, low at :40 and close at :59,
so 1-minute charts show the candle as it was. They are stored through `tick_ingest` as
`source="backfill"`, `is_realtime=False`, bypassing the market-hours filter; the candle is
kept in `raw_data`. Candles carry no cumulative day volume, so `volume` stays empty.

Limits respected: one request never spans more than one session (SmartAPI accepts up to 30
days of ONE_MINUTE candles per request and answers at most about 500 candles; a session has
375 minutes), requests are spaced `REQUEST_INTERVAL_SECONDS` apart (2 per second, under its
3 per second and 180 per minute), and one run sends at most `MAX_REQUESTS_PER_RUN`.
"""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings

from marketdata.feed.angelone.historical import HistoricalClient
from marketdata.feed.angelone.session import Credentials, angelone_configured
from marketdata.feed.errors import FeedError
from marketdata.market_calendar import IST, calendar_exchange, market_sessions, session_minutes
from marketdata.models import Instrument
from marketdata.ops.daily import daily_candles_refresh
from marketdata.selectors import minutes_without_ticks
from marketdata.services import tick_ingest
from marketdata.ticks import Tick

logger = logging.getLogger(__name__)

SOURCE = "backfill"
INTERVAL = "ONE_MINUTE"
REQUEST_INTERVAL_SECONDS = 0.5
MAX_REQUESTS_PER_RUN = 500
MAX_LOOKBACK = timedelta(days=30)
# Where in its minute each price of a candle is placed: open, high, low, close.
POINTS = ((1, 0), (2, 20), (3, 40), (4, 59))


@dataclass
class BackfillResult:
    requests: int = 0
    candles: int = 0
    stored: int = 0  # ticks
    errors: list[str] = field(default_factory=list)


class _Pacer:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = float("-inf")

    def wait(self) -> None:
        delay = self._last + self.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._last = time.monotonic()


_client: HistoricalClient | None = None


def angelone_session_refresh() -> bool:
    """Log this worker in afresh (before the open); False when Angel One is not configured.

    The feed keeps its own session; this one serves backfills, and it surfaces a wrong
    credential in the log before the session starts. A missing or refused credential raises
    `FeedConfigurationError` naming the variable.
    """
    global _client
    if not angelone_configured():
        logger.info("Angel One session refresh skipped: no credentials configured")
        return False
    client = HistoricalClient(
        credentials=Credentials.from_settings(), api_url=settings.ANGEL_ONE_API_URL
    )
    client.login()
    _client = client
    logger.info("Angel One session refreshed")
    return True


def historical_client() -> HistoricalClient | None:
    """This worker's logged-in client (logging in if needed); None without credentials."""
    if _client is None and not angelone_session_refresh():
        return None
    return _client


def _forget(client: HistoricalClient | None) -> None:
    """After a refusal the next run logs in again, in case the session was the cause."""
    global _client
    if _client is client:
        _client = None


def _days(start: datetime, end: datetime) -> Iterator[date]:
    day, last = start.astimezone(IST).date(), end.astimezone(IST).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _gaps(
    instruments: list[Instrument], start: datetime, end: datetime
) -> Iterator[tuple[Instrument, list[datetime]]]:
    """Each instrument's missing whole minutes in [start, end), one session at a time."""
    days = list(_days(start, end))
    keys = [(exchange, day) for exchange in ("NSE", "BSE") for day in days]
    sessions = market_sessions(days=keys)
    for day in days:
        for instrument in instruments:
            session = sessions[(calendar_exchange(instrument.exchange), day)]
            if session is None:
                continue
            minutes = [
                m
                for m in session_minutes(session)
                if start <= m and m + timedelta(minutes=1) <= end
            ]
            missing = minutes_without_ticks(symbol=instrument.symbol, minutes=minutes)
            if missing:
                yield instrument, missing


def _candle_ticks(instrument: Instrument, candle: list[Any]) -> list[Tick]:
    minute = datetime.fromisoformat(str(candle[0])).astimezone(IST).replace(second=0, microsecond=0)
    return [
        Tick(
            token=instrument.token,
            symbol=instrument.symbol,
            exchange=instrument.exchange,
            exchange_type=instrument.exchange_type,
            ltpc=float(candle[index]),
            received_at=minute + timedelta(seconds=second),
            source=SOURCE,
            is_realtime=False,
            raw_data={"candle": candle},
        )
        for index, second in POINTS
    ]


def _params(instrument: Instrument, missing: list[datetime]) -> dict[str, str]:
    return {
        "exchange": instrument.exchange,
        "symboltoken": instrument.token,
        "interval": INTERVAL,
        "fromdate": missing[0].astimezone(IST).strftime("%Y-%m-%d %H:%M"),
        "todate": missing[-1].astimezone(IST).strftime("%Y-%m-%d %H:%M"),
    }


def ticks_backfill(
    *, start: datetime, end: datetime, client: HistoricalClient | None = None
) -> BackfillResult:
    """Fill the streamed instruments' minutes in [start, end) that have no tick at all."""
    result = BackfillResult()
    start = max(start, end - MAX_LOOKBACK)
    instruments = list(Instrument.objects.filter(subscribed=True).order_by("symbol"))
    pacer = _Pacer(REQUEST_INTERVAL_SECONDS)
    for instrument, missing in _gaps(instruments, start, end):
        if result.requests >= MAX_REQUESTS_PER_RUN:
            result.errors.append("request budget spent; the next run goes on")
            break
        try:
            client = client or historical_client()
            if client is None:
                logger.info("Backfill skipped: Angel One credentials are not configured")
                break
            pacer.wait()
            result.requests += 1
            candles = client.candles(params=_params(instrument, missing))
        except FeedError as exc:  # refused or unreachable: the next run tries again
            _forget(client)
            logger.warning("Backfill of %s stopped: %s", instrument.symbol, exc)
            result.errors.append(f"{instrument.symbol}: {exc}")
            break
        wanted = set(missing)
        ticks = [
            tick
            for candle in candles
            for tick in _candle_ticks(instrument, candle)
            if tick.received_at.replace(second=0) in wanted
        ]
        result.candles += len(ticks) // len(POINTS)
        stored = tick_ingest(ticks=ticks, enforce_market_hours=False).stored
        result.stored += len(stored)
        daily_candles_refresh(ticks=stored)
    logger.info(
        "Backfill %s..%s: %d request(s), %d candle(s), %d tick(s) stored",
        start,
        end,
        result.requests,
        result.candles,
        result.stored,
    )
    return result
