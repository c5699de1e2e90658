"""A real feed process for the end-to-end tests here (test_feed_demand.py, test_live_pnl_ws.py):
`run_feed --source angelone` on the local Angel One peer, following the demand, on this run's
database (a module using it imports marketdata/tests/live's `sqlite_file` and
`_shared_database` fixtures, so that on SQLite its tests and the feed share a file)."""

import signal as signals_of_the_os
from collections.abc import Iterator

import pytest
from django.conf import settings

from marketdata.tests.feed.angelone.angelone_peer import AngelOnePeer
from marketdata.tests.feed.feedprocess import feed_finish, feeds_kill
from marketdata.tests.live.demand_helpers import demand_keys_clear, feed, session_all_day
from signals.tests.helpers import FEED_OPTION_TOKEN, OPTION, option_contract_create


@pytest.fixture
def peer() -> Iterator[AngelOnePeer]:
    peer = AngelOnePeer(tick_interval=0.2).start()
    yield peer
    peer.stop()


@pytest.fixture
def running_feed(peer, sqlite_file, tmp_path) -> Iterator[AngelOnePeer]:
    """The feed, streaming OPTION (token FEED_OPTION_TOKEN) while a signal on it is ACTIVE."""
    if settings.USES_MONGODB or not settings.REDIS_URL:
        pytest.skip("needs a SQL database and Redis")
    option_contract_create(OPTION, token=FEED_OPTION_TOKEN)
    session_all_day()  # the feed stores (and tracks signals on) the peer's ticks at any hour
    demand_keys_clear()
    process = feed(sqlite_file=sqlite_file, log_dir=tmp_path, peer=peer)
    yield peer
    process.send_signal(signals_of_the_os.SIGTERM)
    status, log = feed_finish(process)
    feeds_kill()
    assert status == 0, log
