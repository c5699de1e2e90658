"""bench/latency's database: the user, sessions and instruments of a run, rows counted, and
the outage."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.latency.report import SendLog
from testing.waiting import wait_until

# --- Set-up ----------------------------------------------------------------------------------


def database_prepare() -> str:
    """A user (its access token is returned) and a whole-day special session for NSE and BSE
    today and tomorrow (IST), so a run across midnight stays in session."""
    from datetime import time as clock
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from marketdata.market_calendar import ist_day
    from marketdata.models import MarketSession

    today = ist_day(datetime.now(tz=UTC))
    for day in (today, today + timedelta(days=1)):
        for exchange in ("NSE", "BSE"):
            MarketSession.objects.update_or_create(
                date=day,
                exchange=exchange,
                defaults={
                    "kind": MarketSession.Kind.SPECIAL,
                    "opens_at": clock(0, 0),
                    "closes_at": clock(23, 59, 59),
                    "note": "bench/latency: open all day",
                },
            )
    user = User.objects.create_user("bench@example.com", "Bench-Password-1", name="Bench")
    return str(AccessToken.for_user(user))


def options_create(count: int) -> None:
    """`count` NFO index options, subscribed: strikes either side of three underlyings."""
    from datetime import timedelta

    from marketdata.models import Instrument

    expiry = datetime.now(tz=UTC).date() + timedelta(days=7)
    stamp = expiry.strftime("%d%b%y").upper()
    underlyings = [("NIFTY", 50, 22_000, 75), ("BANKNIFTY", 100, 48_000, 30), ("FINNIFTY", 50, 23_000, 65)]  # fmt: skip
    rows = []
    for n in range(count):
        name, step, middle, lot = underlyings[n % 3]
        strike = middle + (n // 6 - count // 12) * step
        kind = "CE" if n // 3 % 2 == 0 else "PE"
        rows.append(
            Instrument(
                token=str(40_000 + n),
                symbol=f"{name}{stamp}{strike}{kind}",
                name=name,
                exchange="NFO",
                exchange_type=2,
                instrument_type="OPTIDX",
                expiry=expiry,
                strike=float(strike),
                lot_size=lot,
                subscribed=True,
            )
        )
    Instrument.objects.bulk_create(rows)


def streamed() -> dict[str, list[Any]]:
    """token -> [symbol, exchange, exchange type] of every subscribed instrument, by symbol."""
    from marketdata.models import Instrument

    return {
        i.token: [i.symbol, i.exchange, i.exchange_type]
        for i in Instrument.objects.filter(subscribed=True).order_by("symbol")
    }


def stored_count() -> int:
    from marketdata.models import MarketData

    return MarketData.objects.count()


def outage(proxy: Any, seconds: float, sends: SendLog) -> Callable[[int, int], dict[str, Any]]:
    """Cut the database in the middle of the window for `seconds`; then time how long the
    feed takes to store what it held."""

    def during(start_ns: int, end_ns: int) -> dict[str, Any]:
        from marketdata.feed.heartbeat import heartbeat_read

        cut_at = (start_ns + end_ns) / 2e9 - seconds / 2
        time.sleep(max(0.0, cut_at - time.time()))
        proxy.cut()
        try:
            cut_ns = time.time_ns()
            before = stored_count()  # this process reaches the database directly
            time.sleep(seconds)
            seen = (heartbeat_read() or {}).get("database")  # what the feed reports, at the end
            stored_meanwhile = stored_count() - before
        finally:  # also when the bench is stopped: the feed then stores what it holds, and exits
            proxy.restore()
        back_ns = time.time_ns()
        # What was sent before the database returned must be stored soon after it returns.
        held = sum(1 for ns in list(sends.sent.values()) if ns < back_ns)
        started = time.monotonic()
        wait_until(lambda: stored_count() >= held, what="the backlog stored", timeout=30)
        return {
            "cut_ns": cut_ns,
            "back_ns": back_ns,
            "feed_saw": seen,
            "stored_during_outage": stored_meanwhile,
            "held": held - before,
            "caught_up_seconds": time.monotonic() - started,
        }

    return during


def sample(symbols: list[str], size: int) -> list[str]:
    """`size` symbols spread evenly over the list (so over the feed's three connections)."""
    step = max(1, len(symbols) // size)
    return symbols[::step][:size]
