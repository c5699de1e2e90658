"""The middleware around every request: CORS for the configured origins, and the request log
(`trading_signals/middleware.py`)."""

import logging

import pytest

pytestmark = pytest.mark.django_db


def test_cors_allows_the_configured_origins(api_client):
    response = api_client.options(
        "/api/v1/auth/login",
        HTTP_ORIGIN="http://localhost:5173",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )

    assert response["access-control-allow-origin"] == "http://localhost:5173"


def test_request_log_has_method_path_status_but_no_query_string(api_client, caplog):
    with caplog.at_level(logging.INFO, logger="trading_signals.requests"):
        api_client.get("/health?token=eyJsecret.eyJsecret.sig")

    line = caplog.records[-1].getMessage()
    assert line.startswith("GET /health 200")
    assert "token" not in line
