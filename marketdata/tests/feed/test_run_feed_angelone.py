"""`run_feed` with the Angel One source against the local protocol peer."""

import pytest
import time_machine
from django.core.management import call_command

from marketdata.feed.heartbeat import heartbeat_read
from marketdata.models import MarketData
from marketdata.tests.conftest import TRADING_DAY
from marketdata.tests.feed.angelone.angelone_peer import PeerCredentials
from marketdata.tests.feed.feedprocess import (
    feed_database,
    feed_env,
    feed_finish,
    feed_start,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("feed_sandbox")]


def test_login_subscribe_frames_rows_stored(angelone_settings):
    # The peer stamps frames with the (travelled) wall clock: inside the session.
    with time_machine.travel(TRADING_DAY, tick=True):
        call_command("run_feed", "--symbols=NIFTY,SENSEX", "--mode=quote", "--duration=1.5")

    beat = heartbeat_read()
    assert beat["source"] == "angelone"
    assert beat["received"] > 0
    assert beat["stored"] == beat["received"] == MarketData.objects.count()
    assert set(MarketData.objects.values_list("symbol", flat=True)) == {"NIFTY", "SENSEX"}
    assert angelone_settings.logins == 1


def test_refused_totp_exits_2_naming_the_variable(angelone_peer, tmp_path):
    wrong = PeerCredentials(totp_key="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
    env = feed_env(
        database=feed_database(tmp_path).url,
        log_dir=tmp_path,
        ANGEL_ONE_API_URL=angelone_peer.api_url,
        ANGEL_ONE_WS_URL=angelone_peer.ws_url,
        **wrong.as_settings(),
    )

    status, log = feed_finish(feed_start("run_feed", ["--duration=20"], env))

    assert status == 2, log
    assert "ANGEL_ONE_TOTP_KEY" in log
    assert wrong.totp_key not in log
