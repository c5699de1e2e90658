"""Backfill (`ops/backfill.py`), run as beat runs it: Celery tasks applied locally against the
local Angel One peer (login and historical candles); and the feed's outage it fills after.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
import time_machine

from marketdata import tasks
from marketdata.feed import heartbeat
from marketdata.models import Instrument, MarketData
from marketdata.ops import backfill, supervisor
from marketdata.ops.supervisor import Action, feed_supervise
from marketdata.selectors import candles_for
from marketdata.tasks import angelone_session_refresh, ticks_backfill
from marketdata.tests.conftest import at_clock, make_tick, store
from marketdata.tests.feed.angelone.angelone_peer import AngelOnePeer, PeerCredentials, peer_candle
from trading_signals.celery import app as celery_app

pytestmark = pytest.mark.django_db

CREDENTIALS = PeerCredentials().as_settings()  # their names, blanked to unconfigure Angel One


@pytest.fixture
def peer(angelone_settings: AngelOnePeer) -> Iterator[AngelOnePeer]:
    """The peer the backfill logs in to; no client of an earlier test's peer is reused."""
    backfill._client = None
    yield angelone_settings
    backfill._client = None


@pytest.fixture
def only_streamed(db) -> None:
    """NIFTY and BANKNIFTY are the streamed instruments in these tests."""
    Instrument.objects.update(subscribed=False)
    Instrument.objects.filter(symbol__in=["NIFTY", "BANKNIFTY"]).update(subscribed=True)


def minute_ticks(symbol: str, start: datetime, minutes: int) -> None:
    """One realtime tick in each of `minutes` minutes from `start`, mid-minute."""
    store([make_tick(symbol, start + timedelta(minutes=i, seconds=30)) for i in range(minutes)])


# --- backfill --------------------------------------------------------------------------


def test_backfill_fills_only_the_missing_minutes_from_historical_candles(peer, only_streamed):
    minute_ticks("NIFTY", at_clock("09:15:00"), 45)  # 09:15-09:59
    minute_ticks("NIFTY", at_clock("10:05:00"), 25)  # 10:05-10:29: 10:00-10:04 are missing
    minute_ticks("BANKNIFTY", at_clock("09:15:00"), 75)  # complete

    stored = ticks_backfill.apply(
        kwargs={"start": at_clock("09:15:00").isoformat(), "end": at_clock("10:30:00").isoformat()}
    ).get()

    assert stored == 5 * 4
    ((_, request),) = peer.candle_requests
    assert request == {
        "exchange": "NSE",
        "symboltoken": "99926000",
        "interval": "ONE_MINUTE",
        "fromdate": "2025-01-06 10:00",
        "todate": "2025-01-06 10:04",
    }
    filled = MarketData.objects.filter(source="backfill")
    assert filled.count() == 20
    assert set(filled.values_list("is_realtime", flat=True)) == {False}
    candle = candles_for(
        symbol="NIFTY", interval="1m", start=at_clock("10:02:00"), end=at_clock("10:03:00")
    )
    _, open_, high, low, close, _ = peer_candle(at_clock("10:02:00"))
    assert [(c.open, c.high, c.low, c.close) for c in candle] == [(open_, high, low, close)]


def test_backfill_respects_the_request_rate_and_asks_nothing_without_gaps(peer, only_streamed):
    start, end = at_clock("09:15:00"), at_clock("09:45:00")
    ticks_backfill.apply(kwargs={"start": start.isoformat(), "end": end.isoformat()}).get()

    assert len(peer.candle_requests) == 2  # one span per instrument and session
    (first, _), (second, _) = peer.candle_requests
    assert second - first >= backfill.REQUEST_INTERVAL_SECONDS * 0.9
    assert MarketData.objects.filter(source="backfill").count() == 2 * 30 * 4

    ticks_backfill.apply(kwargs={"start": start.isoformat(), "end": end.isoformat()}).get()
    assert len(peer.candle_requests) == 2


def test_backfill_without_credentials_does_nothing(only_streamed, settings):
    for name in CREDENTIALS:
        setattr(settings, name, "")
    end = at_clock("10:00:00")
    assert ticks_backfill.apply(kwargs={"end": end.isoformat()}).get() == 0
    assert not MarketData.objects.exists()


@pytest.fixture
def eager_tasks(settings) -> Iterator[None]:
    """Tasks a service enqueues run at once, in this process (as without Redis)."""
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.CELERY_TASK_EAGER_PROPAGATES = True
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = not settings.REDIS_URL
    celery_app.conf.CELERY_TASK_EAGER_PROPAGATES = False


def test_the_feed_coming_back_after_an_outage_backfills_the_gap(
    peer, only_streamed, eager_tasks, log_dir, settings
):
    client = redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
    keys = (supervisor.STATE_KEY, heartbeat.HEARTBEAT_KEY, heartbeat.STOP_KEY)
    if client:
        client.delete(*keys)
    supervisor._MemoryStore.state = supervisor.SupervisorState()
    Instrument.objects.filter(symbol="BANKNIFTY").update(subscribed=False)
    minute_ticks("NIFTY", at_clock("09:15:00"), 45)
    with time_machine.travel(at_clock("09:59:40"), tick=False):
        heartbeat.heartbeat_write(beat={"state": "streaming", "pid": 1})

    # The feed died at 09:59:40; the supervisor restarts it and it is back by 10:06.
    assert feed_supervise(now=at_clock("10:00:30"), start=lambda: 1).action is Action.START
    with time_machine.travel(at_clock("10:06:20"), tick=False):
        heartbeat.heartbeat_write(beat={"state": "streaming", "pid": 1})
    # The beat task makes the next pass; it enqueues the backfill the supervisor asks for.
    assert (
        tasks.feed_supervise.apply(kwargs={"now": at_clock("10:06:30").isoformat()}).get()
        == "running"
    )

    filled = MarketData.objects.filter(source="backfill").order_by("received_at")
    assert filled.count() == 6 * 4  # 10:00-10:05, the whole minutes of the outage
    assert filled.first().received_at == at_clock("10:00:00").astimezone(UTC)
    if client:
        client.delete(*keys)


# --- the Angel One session before the open -----------------------------------------------


def test_session_refresh_logs_in_when_configured(peer):
    assert angelone_session_refresh.apply().get() is True
    assert peer.logins == 1


def test_session_refresh_is_skipped_without_credentials(settings):
    for name in CREDENTIALS:
        setattr(settings, name, "")
    assert angelone_session_refresh.apply().get() is False
