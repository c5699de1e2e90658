"""Signing in to the live push (`/ws`): the access token in the query string or as a
subprotocol, and 4401 for a missing, unusable or expired one."""

from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.services import user_tokens_revoke
from marketdata.tests.live.helpers import access_token, close_code, open_ws, recv_json, send_json


def test_access_token_in_the_query_string_opens_the_stream(live_url, trader):
    with open_ws(live_url, access_token(trader)) as ws:
        send_json(ws, {"action": "ping"})
        assert recv_json(ws) == {"type": "pong"}


def test_access_token_as_bearer_subprotocol_opens_the_stream(live_url, trader):
    with open_ws(live_url, subprotocols=["bearer", access_token(trader)]) as ws:
        assert ws.subprotocol == "bearer"
        send_json(ws, {"action": "ping"})
        assert recv_json(ws) == {"type": "pong"}


def test_connection_without_a_token_is_closed_with_4401_and_a_reason(live_url, live_db):
    with open_ws(live_url) as ws:
        assert recv_json(ws)["code"] == "unauthorized"
        code, reason = close_code(ws)
    assert code == 4401
    assert "token" in reason


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda user: access_token(user, lifetime=timedelta(seconds=-1)), id="expired"),
        pytest.param(lambda user: "eyJhbGciOiJIUzI1NiJ9.garbled.token", id="garbled"),
        pytest.param(lambda user: str(RefreshToken.for_user(user)), id="refresh-token"),
    ],
)
def test_unusable_token_is_closed_with_4401(live_url, trader, make_token):
    with open_ws(live_url, make_token(trader)) as ws:
        error = recv_json(ws)
        code, reason = close_code(ws)
    assert error["type"] == "error"
    assert error["code"] == "unauthorized"
    assert code == 4401
    assert reason.startswith("Invalid access token")


def test_token_of_a_deactivated_user_is_refused(live_url, trader):
    token = access_token(trader)
    trader.is_active = False
    trader.save()
    with open_ws(live_url, token) as ws:
        assert close_code(ws)[0] == 4401


def test_open_connection_is_closed_with_4401_when_its_token_expires(live_url, trader):
    with open_ws(live_url, access_token(trader, lifetime=timedelta(seconds=2))) as ws:
        send_json(ws, {"action": "ping"})
        assert recv_json(ws) == {"type": "pong"}
        assert recv_json(ws) == {
            "type": "error",
            "code": "token_expired",
            "message": "The access token has expired.",
        }
        assert close_code(ws) == (4401, "The access token has expired.")


def test_a_token_revoked_by_logging_out_everywhere_no_longer_opens_the_stream(live_url, trader):
    token = access_token(trader)
    with open_ws(live_url, token) as ws:
        send_json(ws, {"action": "ping"})
        assert recv_json(ws) == {"type": "pong"}

    user_tokens_revoke(user=trader)

    with open_ws(live_url, token) as ws:
        assert recv_json(ws)["code"] == "unauthorized"
        code, reason = close_code(ws)
    assert code == 4401
    assert "revoked" in reason


@pytest.mark.parametrize(
    "revoke",
    [
        pytest.param(lambda user: user_tokens_revoke(user=user), id="log-out-everywhere"),
        pytest.param(
            lambda user: user.set_password("A-new-Password-8") or user.save(), id="password"
        ),
        pytest.param(
            lambda user: setattr(user, "is_active", False) or user.save(), id="deactivated"
        ),
    ],
)
def test_an_open_connection_is_closed_with_4401_when_its_tokens_are_revoked(
    live_url, trader, revoke
):
    with open_ws(live_url, access_token(trader)) as ws:
        send_json(ws, {"action": "ping"})
        assert recv_json(ws) == {"type": "pong"}

        revoke(trader)

        assert recv_json(ws) == {
            "type": "error",
            "code": "token_revoked",
            "message": "Token has been revoked; log in again.",
        }
        assert close_code(ws) == (4401, "Token has been revoked; log in again.")


def test_revoking_another_user_leaves_a_connection_open(live_url, trader, django_user_model):
    other = django_user_model.objects.create_user("other@example.com", "Other-Password-7", name="O")
    with open_ws(live_url, access_token(trader)) as ws:
        user_tokens_revoke(user=other)
        send_json(ws, {"action": "ping"})
        assert recv_json(ws) == {"type": "pong"}
