"""The daphne fast path is used only with the pinned daphne, autobahn and Twisted, never silently off."""

import logging
import re
from functools import partial
from importlib import metadata
from pathlib import Path

import pytest

from marketdata.live import daphne_socket

REQUIREMENTS = Path(__file__).resolve().parents[3] / "requirements" / "base.txt"


@pytest.fixture(autouse=True)
def _fresh_self_check(monkeypatch):
    daphne_socket._pinned_versions_installed.cache_clear()
    monkeypatch.setattr(daphne_socket, "_fallback_logged", False)
    yield
    daphne_socket._pinned_versions_installed.cache_clear()


def test_the_pinned_versions_are_the_ones_requirements_install():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", REQUIREMENTS.read_text(), re.M))
    assert {name: pins[name] for name in daphne_socket.PINNED} == daphne_socket.PINNED
    assert daphne_socket.version_mismatches() == {}


def test_another_version_switches_the_fast_path_off_and_says_so(monkeypatch, caplog):
    real_version = metadata.version
    monkeypatch.setattr(
        daphne_socket.metadata,
        "version",
        lambda name: "99.0" if name == "autobahn" else real_version(name),
    )
    with caplog.at_level(logging.ERROR, logger=daphne_socket.__name__):
        socket = daphne_socket.DaphneSocket(partial(print, _DaphneLikeProtocol()), high_water=10)

    assert socket.send_if_ready("{}") is False
    assert "fast path is off" in caplog.text
    assert "autobahn" in caplog.text


def test_another_server_falls_back_to_asgi_sends_and_says_so_once(caplog):
    async def plain_asgi_send(message: dict) -> None: ...

    with caplog.at_level(logging.ERROR, logger=daphne_socket.__name__):
        first = daphne_socket.DaphneSocket(plain_asgi_send, high_water=10)
        daphne_socket.DaphneSocket(plain_asgi_send, high_water=10)

    assert first.send_if_ready("{}") is False
    assert first.is_slow() is False
    assert first.close_with_reason(4401, "bye") is False
    assert caplog.text.count("fast path is off") == 1


class _DaphneLikeProtocol:
    """Has autobahn's public send method, so only the version check can refuse it."""

    def sendPreparedMessage(self, frame: object) -> None:  # noqa: N802 - autobahn's name
        raise AssertionError("must not be called when the fast path is off")
