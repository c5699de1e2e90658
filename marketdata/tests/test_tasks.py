"""The scheduled jobs, each run as beat runs it: a Celery task applied locally.

Angel One's REST API is a small local HTTP peer (login, profile, historical candles).
"""

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
import time_machine

from accounts.models import RevokedToken
from accounts.tasks import revoked_tokens_purge
from marketdata import tasks
from marketdata.feed import heartbeat
from marketdata.market_calendar import IST
from marketdata.models import DailyCandle, Instrument, MarketData
from marketdata.ops import backfill, supervisor
from marketdata.ops.supervisor import Action, feed_supervise
from marketdata.selectors import candles_for
from marketdata.tasks import (
    angelone_session_refresh,
    daily_candles_build,
    ticks_backfill,
    ticks_purge,
)
from marketdata.tests.conftest import TRADING_DAY, make_tick, store
from trading_signals.celery import app as celery_app

pytestmark = pytest.mark.django_db

CANDLE_PATH = "/rest/secure/angelbroking/historical/v1/getCandleData"
LOGIN_PATH = "/rest/auth/angelbroking/user/v1/loginByPassword"
PROFILE_PATH = "/rest/secure/angelbroking/user/v1/getProfile"
CREDENTIALS = {
    "ANGEL_ONE_API_KEY": "peer-key",
    "ANGEL_ONE_CLIENT_ID": "P100",
    "ANGEL_ONE_PASSWORD": "1234",
    "ANGEL_ONE_TOTP_KEY": "JBSWY3DPEHPK3PXP",
}


def peer_candle(minute: datetime) -> list[Any]:
    """What the peer answers for a minute: prices that tell minutes apart."""
    base = 23_000 + minute.hour * 100 + minute.minute
    stamp = minute.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S+05:30")
    return [stamp, base + 0.5, base + 3.0, base - 2.0, base + 1.25, 0]


class HistoryPeer:
    """SmartAPI's login, profile and getCandleData, answered as the service does."""

    def __init__(self) -> None:
        self.logins = 0
        self.candle_requests: list[tuple[float, dict[str, str]]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _answer(self, path: str, body: dict[str, Any], authorization: str) -> dict[str, Any]:
        if path == LOGIN_PATH:
            if body.get("password") != CREDENTIALS["ANGEL_ONE_PASSWORD"]:
                return {"status": False, "message": "Invalid Password", "errorcode": "AB1000"}
            self.logins += 1
            tokens = {"jwtToken": "peer-jwt", "refreshToken": "r", "feedToken": "f"}
            return {"status": True, "message": "SUCCESS", "errorcode": "", "data": tokens}
        if authorization != "Bearer peer-jwt":
            return {"success": False, "message": "Invalid Token", "errorCode": "AG8001"}
        if path == PROFILE_PATH:
            return {"status": True, "message": "SUCCESS", "data": {"clientcode": "P100"}}
        self.candle_requests.append((time.monotonic(), body))
        first = datetime.strptime(body["fromdate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        last = datetime.strptime(body["todate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        count = int((last - first).total_seconds()) // 60 + 1
        candles = [peer_candle(first + timedelta(minutes=i)) for i in range(count)]
        return {"status": True, "message": "SUCCESS", "errorcode": "", "data": candles}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                self._reply(peer._answer(self.path, body, self.headers.get("Authorization", "")))

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                self._reply(peer._answer(path, {}, self.headers.get("Authorization", "")))

            def _reply(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        return Handler


@pytest.fixture
def peer(settings) -> Iterator[HistoryPeer]:
    peer = HistoryPeer()
    thread = threading.Thread(target=peer.server.serve_forever, daemon=True)
    thread.start()
    settings.ANGEL_ONE_API_URL = peer.url
    for name, value in CREDENTIALS.items():
        setattr(settings, name, value)
    backfill._client = None  # a client of an earlier test's peer must not be reused
    yield peer
    backfill._client = None
    peer.server.shutdown()
    peer.server.server_close()
    thread.join(5)


@pytest.fixture
def only_streamed(db) -> None:
    """NIFTY and BANKNIFTY are the streamed instruments in these tests."""
    Instrument.objects.update(subscribed=False)
    Instrument.objects.filter(symbol__in=["NIFTY", "BANKNIFTY"]).update(subscribed=True)


def at(clock: str, day: datetime = TRADING_DAY) -> datetime:
    hour, minute, second = map(int, clock.split(":"))
    return day.replace(hour=hour, minute=minute, second=second)


def minute_ticks(symbol: str, start: datetime, minutes: int) -> None:
    """One realtime tick in each of `minutes` minutes from `start`, mid-minute."""
    store([make_tick(symbol, start + timedelta(minutes=i, seconds=30)) for i in range(minutes)])


# --- backfill --------------------------------------------------------------------------


def test_backfill_fills_only_the_missing_minutes_from_historical_candles(peer, only_streamed):
    minute_ticks("NIFTY", at("09:15:00"), 45)  # 09:15-09:59
    minute_ticks("NIFTY", at("10:05:00"), 25)  # 10:05-10:29: 10:00-10:04 are missing
    minute_ticks("BANKNIFTY", at("09:15:00"), 75)  # complete

    stored = ticks_backfill.apply(
        kwargs={"start": at("09:15:00").isoformat(), "end": at("10:30:00").isoformat()}
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
    candle = candles_for(symbol="NIFTY", interval="1m", start=at("10:02:00"), end=at("10:03:00"))
    _, open_, high, low, close, _ = peer_candle(at("10:02:00"))
    assert [(c.open, c.high, c.low, c.close) for c in candle] == [(open_, high, low, close)]


def test_backfill_respects_the_request_rate_and_asks_nothing_without_gaps(peer, only_streamed):
    start, end = at("09:15:00"), at("09:45:00")
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
    end = at("10:00:00")
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
    peer, only_streamed, eager_tasks, tmp_path, settings
):
    client = redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
    keys = (supervisor.STATE_KEY, heartbeat.HEARTBEAT_KEY, heartbeat.STOP_KEY)
    if client:
        client.delete(*keys)
    supervisor._MemoryStore.state = supervisor.SupervisorState()
    settings.LOG_DIR = tmp_path
    Instrument.objects.filter(symbol="BANKNIFTY").update(subscribed=False)
    minute_ticks("NIFTY", at("09:15:00"), 45)
    with time_machine.travel(at("09:59:40"), tick=False):
        heartbeat.heartbeat_write(beat={"state": "streaming", "pid": 1})

    # The feed died at 09:59:40; the supervisor restarts it and it is back by 10:06.
    assert feed_supervise(now=at("10:00:30"), start=lambda: 1).action is Action.START
    with time_machine.travel(at("10:06:20"), tick=False):
        heartbeat.heartbeat_write(beat={"state": "streaming", "pid": 1})
    # The beat task makes the next pass; it enqueues the backfill the supervisor asks for.
    assert tasks.feed_supervise.apply(kwargs={"now": at("10:06:30").isoformat()}).get() == "running"

    filled = MarketData.objects.filter(source="backfill").order_by("received_at")
    assert filled.count() == 6 * 4  # 10:00-10:05, the whole minutes of the outage
    assert filled.first().received_at == at("10:00:00").astimezone(UTC)
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


# --- daily candles and the day's quality summary --------------------------------------------


def test_daily_candles_are_built_after_the_close_with_a_quality_summary():
    day_ticks = [
        make_tick("NIFTY", at("09:15:00"), ltpc=23000.0, volume=100),
        make_tick("NIFTY", at("10:00:00"), ltpc=23120.0, volume=200),
        make_tick("NIFTY", at("12:00:00"), ltpc=22950.0, volume=300),
        make_tick("NIFTY", at("15:29:59"), ltpc=23050.0, volume=400),
        make_tick("NIFTY", at("15:29:59") - timedelta(seconds=1), ltpc=23040.0, is_realtime=False),
        make_tick("SENSEX", at("11:00:00"), ltpc=76000.0),
    ]
    next_day = make_tick("NIFTY", at("09:20:00", TRADING_DAY + timedelta(days=1)), ltpc=1.0)
    store([*day_ticks, next_day])

    assert daily_candles_build.apply(kwargs={"day": "2025-01-06"}).get() == 2

    nifty = DailyCandle.objects.get(symbol="NIFTY", date=TRADING_DAY.date())
    assert (nifty.open, nifty.high, nifty.low, nifty.close) == (23000.0, 23120.0, 22950.0, 23050.0)
    assert (nifty.tick_count, nifty.volume) == (5, 300)
    assert nifty.first_tick_at == at("09:15:00")
    assert nifty.last_tick_at == at("15:29:59")
    assert sum(nifty.quality["by_quality"].values()) == 5
    assert (nifty.quality["realtime"], nifty.quality["not_realtime"]) == (4, 1)
    assert nifty.quality["session_minutes"] == 375
    assert nifty.quality["missing_minutes"] == 375 - 4  # 09:15, 10:00, 12:00 and 15:29
    assert DailyCandle.objects.get(symbol="SENSEX").close == 76000.0


def test_rebuilding_a_day_replaces_its_candle():
    store([make_tick("NIFTY", at("09:15:00"), ltpc=23000.0)])
    daily_candles_build.apply(kwargs={"day": "2025-01-06"}).get()
    store([make_tick("NIFTY", at("10:15:00"), ltpc=23100.0, is_realtime=False)])

    daily_candles_build.apply(kwargs={"day": "2025-01-06"}).get()

    candle = DailyCandle.objects.get(symbol="NIFTY")
    assert (candle.close, candle.tick_count) == (23100.0, 2)


def test_the_1d_chart_reads_built_days_so_they_outlive_their_ticks(settings):
    next_day = TRADING_DAY + timedelta(days=1)
    store(
        [
            make_tick("NIFTY", at("09:15:00"), ltpc=23000.0),
            make_tick("NIFTY", at("15:00:00"), ltpc=23200.0),
            make_tick("NIFTY", at("09:30:00", next_day), ltpc=23300.0),
        ]
    )
    daily_candles_build.apply(kwargs={"day": "2025-01-06"}).get()
    settings.MARKETDATA_RETENTION_DAYS = 1
    assert ticks_purge.apply(kwargs={"now": at("18:00:00", next_day).isoformat()}).get() == 2

    candles = candles_for(
        symbol="NIFTY",
        interval="1d",
        start=TRADING_DAY - timedelta(days=3),
        end=next_day.replace(hour=23),
    )

    assert [(c.time.date().day, c.open, c.close, c.ticks) for c in candles] == [
        (6, 23000.0, 23200.0, 2),  # built after the close; its ticks are gone
        (7, 23300.0, 23300.0, 1),  # today, from the ticks
    ]


# --- retention ----------------------------------------------------------------------------


def test_retention_deletes_ticks_older_than_the_setting_in_batches(settings, monkeypatch):
    store([make_tick("NIFTY", TRADING_DAY - timedelta(days=d)) for d in (40, 39, 38, 10)])
    settings.MARKETDATA_RETENTION_DAYS = 30
    monkeypatch.setattr("marketdata.ops.daily.PURGE_BATCH", 2)

    assert ticks_purge.apply(kwargs={"now": TRADING_DAY.isoformat()}).get() == 3
    assert list(MarketData.objects.values_list("received_at", flat=True)) == [
        (TRADING_DAY - timedelta(days=10)).astimezone(UTC)
    ]


def test_retention_keeps_everything_by_default(settings):
    store([make_tick("NIFTY", TRADING_DAY - timedelta(days=3650))])
    assert settings.MARKETDATA_RETENTION_DAYS == 0
    assert ticks_purge.apply().get() == 0
    assert MarketData.objects.count() == 1


# --- accounts -------------------------------------------------------------------------------


def test_expired_revoked_tokens_are_purged():
    now = datetime.now(tz=UTC)
    RevokedToken.objects.create(jti="old", expires_at=now - timedelta(days=1))
    RevokedToken.objects.create(jti="live", expires_at=now + timedelta(days=1))

    assert revoked_tokens_purge.apply().get() == 1
    assert list(RevokedToken.objects.values_list("jti", flat=True)) == ["live"]
