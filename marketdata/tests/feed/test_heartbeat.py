"""The feed's heartbeat: where it is written, and how /health reads a stale one."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings

from marketdata.feed import heartbeat
from marketdata.tests.conftest import TRADING_DAY
from trading_signals.health import health_report


@override_settings(REDIS_URL="")
def test_without_redis_the_heartbeat_is_a_file_in_the_log_dir(log_dir):
    heartbeat.heartbeat_write(beat={"state": "streaming", "received": 3})

    written = json.loads((log_dir / "feed-heartbeat.json").read_text())
    assert written["received"] == 3
    assert heartbeat.heartbeat_read() == written


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("beat", "at", "feed", "healthy"),
    [
        (None, TRADING_DAY, "not running", True),
        ({"state": "streaming"}, TRADING_DAY, "ok", True),
        ({"state": "streaming"}, TRADING_DAY + timedelta(minutes=5), "down", False),
        ({"state": "streaming"}, TRADING_DAY.replace(hour=20), "idle", True),
        ({"state": "stopped"}, TRADING_DAY + timedelta(minutes=5), "stopped", True),
    ],
    ids=["never-started", "fresh", "stale-in-session", "stale-after-close", "stopped"],
)
def test_health_reports_a_stale_feed_down_only_during_the_session(log_dir, beat, at, feed, healthy):
    with time_machine.travel(TRADING_DAY, tick=False) as clock:
        if beat is not None:
            heartbeat.heartbeat_write(beat=beat)
        clock.move_to(at)
        report = health_report()

    assert report["checks"]["feed"] == feed
    assert report["healthy"] is healthy
