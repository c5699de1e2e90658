"""When NSE and BSE trade: a maintained holiday calendar plus staff overrides.

Regular sessions run 09:15:00-15:30:00 IST, Monday to Friday, except the exchange holidays of
the `holidays` package's financial calendars (XNSE for NSE, XBOM for BSE). Calendar packages
lag the exchanges (no Muhurat sessions, thin future years), so a `MarketSession` row for a
day wins over the calendar: a closure shuts the day, a special session opens it with its own
hours, even on a weekend or a holiday.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from marketdata.models import MarketSession

IST = ZoneInfo("Asia/Kolkata")
IST_OFFSET = timedelta(hours=5, minutes=30)  # no daylight saving in India
ONE_SECOND = timedelta(seconds=1)
REGULAR_OPEN = time(9, 15)
REGULAR_CLOSE = time(15, 30)
HOLIDAY_CALENDARS = {"NSE": "XNSE", "BSE": "XBOM"}


@dataclass(frozen=True, slots=True)
class Session:
    opens: datetime  # UTC
    closes: datetime  # UTC

    def contains(self, moment: datetime) -> bool:
        """Both ends inclusive at one-second resolution: 15:30:00.900 is in, 15:30:01 is out."""
        return self.opens <= moment < self.closes + ONE_SECOND


def ist_day(moment: datetime) -> date:
    """The IST calendar day of an aware datetime (a quick path for the ingestion loop)."""
    return (moment.astimezone(UTC) + IST_OFFSET).date()


def calendar_exchange(exchange: str) -> str:
    """The exchange whose calendar governs a segment: BSE and BFO follow BSE, the rest NSE."""
    return "BSE" if exchange.upper().startswith("B") else "NSE"


@lru_cache(maxsize=64)
def _holidays(exchange: str, year: int) -> holidays.HolidayBase:
    return holidays.financial_holidays(HOLIDAY_CALENDARS[exchange], years=year)


def _session(day: date, opens: time, closes: time) -> Session:
    return Session(
        opens=datetime.combine(day, opens, tzinfo=IST).astimezone(UTC),
        closes=datetime.combine(day, closes, tzinfo=IST).astimezone(UTC),
    )


def _regular_session(exchange: str, day: date) -> Session | None:
    if day.weekday() >= 5 or day in _holidays(exchange, day.year):
        return None
    return _session(day, REGULAR_OPEN, REGULAR_CLOSE)


def _overridden(override: MarketSession) -> Session | None:
    if override.kind == MarketSession.Kind.CLOSED:
        return None
    return _session(override.date, override.opens_at, override.closes_at)


def market_sessions(*, days: Iterable[tuple[str, date]]) -> dict[tuple[str, date], Session | None]:
    """The session of each (exchange, IST day), None when closed; one query for the overrides."""
    wanted = {(calendar_exchange(exchange), day) for exchange, day in days}
    overrides = {
        (row.exchange, row.date): row
        for row in MarketSession.objects.filter(date__in={day for _, day in wanted})
    }
    sessions = {}
    for key in wanted:
        override = overrides.get(key)
        sessions[key] = _overridden(override) if override else _regular_session(*key)
    return sessions


def market_session(*, exchange: str, day: date) -> Session | None:
    return market_sessions(days=[(exchange, day)])[(calendar_exchange(exchange), day)]


def market_is_open(*, exchange: str, at: datetime) -> bool:
    session = market_session(exchange=exchange, day=ist_day(at))
    return session is not None and session.contains(at)
