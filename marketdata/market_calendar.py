"""The market's clock: when NSE and BSE trade, the six supported indices, and IST helpers.

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
from django.apps.registry import Apps

from marketdata.models import MarketSession

IST = ZoneInfo("Asia/Kolkata")
IST_OFFSET = timedelta(hours=5, minutes=30)  # no daylight saving in India
ONE_SECOND = timedelta(seconds=1)
REGULAR_OPEN = time(9, 15)
REGULAR_CLOSE = time(15, 30)
# Options (and futures) expire at the regular close of their expiry day.
OPTION_EXPIRY_TIME = REGULAR_CLOSE
HOLIDAY_CALENDARS = {"NSE": "XNSE", "BSE": "XBOM"}
# Angel One's exchange segments (`exch_seg`) and their WebSocket exchange types.
EXCHANGE_TYPES = {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4, "MCX": 5, "NCDEX": 7, "CDS": 13}


@dataclass(frozen=True, slots=True)
class TradingSession:
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


def _session(day: date, opens: time, closes: time) -> TradingSession:
    return TradingSession(
        opens=datetime.combine(day, opens, tzinfo=IST).astimezone(UTC),
        closes=datetime.combine(day, closes, tzinfo=IST).astimezone(UTC),
    )


def regular_session(exchange: str, day: date) -> TradingSession | None:
    """The exchange calendar's session, without staff overrides (`exchange` is NSE or BSE)."""
    if day.weekday() >= 5 or day in _holidays(exchange, day.year):
        return None
    return _session(day, REGULAR_OPEN, REGULAR_CLOSE)


def _overridden(override: MarketSession) -> TradingSession | None:
    if override.kind == MarketSession.Kind.CLOSED:
        return None
    # The session_hours_match_kind constraint: a special session has both hours.
    assert override.opens_at is not None and override.closes_at is not None
    return _session(override.date, override.opens_at, override.closes_at)


def market_sessions(
    *, days: Iterable[tuple[str, date]]
) -> dict[tuple[str, date], TradingSession | None]:
    """The session of each (exchange, IST day), None when closed; one query for the overrides."""
    wanted = {(calendar_exchange(exchange), day) for exchange, day in days}
    overrides = {
        (row.exchange, row.date): row
        for row in MarketSession.objects.filter(date__in={day for _, day in wanted})
    }
    sessions = {}
    for key in wanted:
        override = overrides.get(key)
        sessions[key] = _overridden(override) if override else regular_session(*key)
    return sessions


def market_session(*, exchange: str, day: date) -> TradingSession | None:
    return market_sessions(days=[(exchange, day)])[(calendar_exchange(exchange), day)]


def market_is_open(*, exchange: str, at: datetime) -> bool:
    session = market_session(exchange=exchange, day=ist_day(at))
    return session is not None and session.contains(at)


def ist_day_bounds(day: date) -> tuple[datetime, datetime]:
    """IST midnight of `day` and of the next day."""
    start = datetime.combine(day, time(0), tzinfo=IST)
    return start, start + timedelta(days=1)


def session_minutes(session: TradingSession) -> list[datetime]:
    """The start of every whole minute of a session (375 in a regular one)."""
    count = int((session.closes - session.opens).total_seconds()) // 60
    return [session.opens + timedelta(minutes=i) for i in range(count)]


# --- The six supported indices, seeded by a data migration in each migration set ---
# The old design used 99926017 for SENSEX: that token is India VIX on NSE. Angel One's scrip
# master gives SENSEX 99919000 and BANKEX 99919012, both on BSE (exchange type 3).

INDICES = [
    # token, symbol, name, exchange, exchange_type
    ("99926000", "NIFTY", "NIFTY 50", "NSE", 1),
    ("99926009", "BANKNIFTY", "NIFTY BANK", "NSE", 1),
    ("99926037", "FINNIFTY", "NIFTY FIN SERVICE", "NSE", 1),
    ("99926074", "MIDCPNIFTY", "NIFTY MIDCAP SELECT", "NSE", 1),
    ("99919000", "SENSEX", "SENSEX", "BSE", 3),
    ("99919012", "BANKEX", "BANKEX", "BSE", 3),
]


def seed(apps: Apps, schema_editor: object) -> None:
    Instrument = apps.get_model("marketdata", "Instrument")
    for token, symbol, name, exchange, exchange_type in INDICES:
        Instrument.objects.update_or_create(
            exchange=exchange,
            token=token,
            defaults={
                "symbol": symbol,
                "name": name,
                "exchange_type": exchange_type,
                "instrument_type": "AMXIDX",
                "lot_size": 1,
                "tick_size": 0.05,
                "subscribed": True,
            },
        )


def unseed(apps: Apps, schema_editor: object) -> None:
    Instrument = apps.get_model("marketdata", "Instrument")
    for token, _symbol, _name, exchange, _type in INDICES:
        Instrument.objects.filter(exchange=exchange, token=token).delete()


def option_expires_at(expiry: date) -> datetime:
    """When a contract of `expiry` expires: at the close, 15:30 IST, that day."""
    return datetime.combine(expiry, OPTION_EXPIRY_TIME, tzinfo=IST)


def option_expiry_first_live(now: datetime) -> date:
    """The earliest expiry still trading at `now` (a contract expires at 15:30 IST that day)."""
    local = now.astimezone(IST)
    return local.date() if local.time() < OPTION_EXPIRY_TIME else local.date() + timedelta(days=1)
