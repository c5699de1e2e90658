from collections.abc import Iterator

import pytest
from django.test import override_settings

from marketdata.tests.feed.angelone_peer import AngelOnePeer
from marketdata.tests.feed.feedprocess import feeds_kill


@pytest.fixture
def angelone_peer() -> Iterator[AngelOnePeer]:
    """A running local Angel One peer (.api_url, .ws_url, .credentials, control hooks)."""
    peer = AngelOnePeer().start()
    yield peer
    peer.stop()


@pytest.fixture
def angelone_settings(settings, angelone_peer: AngelOnePeer) -> AngelOnePeer:
    """Settings pointing the Angel One source at the peer, with the peer's credentials."""
    settings.ANGEL_ONE_API_URL = angelone_peer.api_url
    settings.ANGEL_ONE_WS_URL = angelone_peer.ws_url
    for name, value in angelone_peer.credentials.as_settings().items():
        setattr(settings, name, value)
    return angelone_peer


@pytest.fixture
def feed_sandbox(tmp_path) -> Iterator[None]:
    """Heartbeat and logs in this test's folder; no feed process outlives the test."""
    with override_settings(LOG_DIR=tmp_path):
        yield
    feeds_kill()
