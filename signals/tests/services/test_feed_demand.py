"""A signal's option is streamed while the signal is ACTIVE: publishing it subscribes the
option at the broker, closing or cancelling it unsubscribes it, within a second.

End to end: a real feed process (`run_feed --source angelone`, following the demand) on the
local Angel One peer, real Redis, and this run's database shared with the feed (on SQLite, a
file copy that this module's tests use too: the fixtures of marketdata/tests/live; the feed's
in conftest.py here)."""

import time

import pytest

from marketdata.tests.live.conftest import _shared_database, sqlite_file  # noqa: F401 - fixtures
from marketdata.tests.live.demand_helpers import peer_request, seconds_until
from signals import services
from signals.tests.helpers import FEED_OPTION_TOKEN as OPTION_TOKEN
from signals.tests.helpers import lasting, signal_data

pytestmark = pytest.mark.django_db(transaction=True)


def test_publishing_a_signal_streams_its_option_and_closing_it_stops(running_feed, staff_user):
    peer = running_feed

    published = time.monotonic()
    signal = services.signal_create(author=staff_user, data=lasting())
    to_subscribe = seconds_until(
        lambda: peer_request(peer, token=OPTION_TOKEN, action=1),
        since=published,
        timeout=5,
        what="the option's subscribe",
    )
    closed = time.monotonic()
    services.signal_close(signal=signal, exit_price=1100.0)
    to_unsubscribe = seconds_until(
        lambda: peer_request(peer, token=OPTION_TOKEN, action=0),
        since=closed,
        timeout=5,
        what="the option's unsubscribe",
    )

    print(
        f"\npublish -> subscribe {to_subscribe * 1000:.0f} ms; close -> unsubscribe "
        f"{to_unsubscribe * 1000:.0f} ms"
    )
    assert to_subscribe < 1.0 and to_unsubscribe < 1.0  # no grace: the signal is closed


def test_a_signal_closed_by_the_feed_releases_its_option(running_feed, staff_user):
    """Outcome tracking closes it at the first reaching tick (target 150: the peer's first
    price reaches it), and the option stops streaming."""
    peer = running_feed

    signal = services.signal_create(author=staff_user, data=signal_data())

    seconds_until(
        lambda: peer_request(peer, token=OPTION_TOKEN, action=0),
        since=time.monotonic(),
        timeout=5,
        what="the option's unsubscribe",
    )
    signal.refresh_from_db()
    assert (signal.status, signal.outcome) == ("COMPLETED", "TARGET_HIT")


def test_an_option_two_signals_share_stays_until_both_are_closed(running_feed, staff_user):
    peer = running_feed
    first = services.signal_create(author=staff_user, data=lasting())
    second = services.signal_create(author=staff_user, data=lasting(confidence=90))
    seconds_until(
        lambda: peer_request(peer, token=OPTION_TOKEN, action=1),
        since=time.monotonic(),
        timeout=5,
        what="the option's subscribe",
    )

    services.signal_cancel(signal=first)
    time.sleep(1.0)
    assert not peer_request(peer, token=OPTION_TOKEN, action=0)

    services.signal_cancel(signal=second)
    seconds_until(
        lambda: peer_request(peer, token=OPTION_TOKEN, action=0),
        since=time.monotonic(),
        timeout=1.5,
        what="the option's unsubscribe",
    )
