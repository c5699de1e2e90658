"""Signals follow the feed through marketdata's after-store hook, registered at start-up."""

from marketdata.feed.hooks import after_store_run
from signals.models import Outcome, Status
from signals.tests.helpers import ticks_after


def test_ticks_the_feed_stores_close_a_signal_whose_target_they_reach(active_signal):
    after_store_run(ticks=ticks_after(active_signal.created_at, [130.0, 151.0]))

    active_signal.refresh_from_db()
    assert active_signal.status == Status.COMPLETED
    assert active_signal.outcome == Outcome.TARGET_HIT
    assert active_signal.exit_price == 151.0
