import json
import logging
import os

import pytest
from django.test import override_settings

from trading_signals.logging import redact

pytestmark = pytest.mark.django_db


LOCAL_REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@override_settings(REDIS_URL=LOCAL_REDIS)
def test_health_reports_each_dependency(api_client):
    response = api_client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["healthy"] is True
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_health_is_503_when_redis_is_down(api_client):
    response = api_client.get("/health")

    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "down"


@override_settings(REDIS_URL="")
def test_health_without_redis_configured_is_healthy(api_client):
    response = api_client.get("/health")

    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "not configured"


def test_root_names_the_api_and_links_the_docs(api_client):
    body = api_client.get("/").json()

    assert body["name"] == "Trading Signals API"
    assert body["version"]
    assert body["environment"] == "development"
    assert body["docs"].endswith("/docs")


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_use_bundled_assets_not_a_cdn(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html


def test_openapi_documents_the_auth_endpoints_and_their_errors(api_client):
    schema = json.loads(api_client.get("/openapi.json").content)

    login = schema["paths"]["/api/v1/auth/login"]["post"]
    assert {"200", "400", "401", "429"} <= set(login["responses"])
    assert "/api/v1/auth/me" in schema["paths"]


def test_admin_lists_users_for_staff(client, db):
    from accounts.models import User

    admin = User.objects.create_superuser("root@example.com", "Admin-Pass-77", name="Root")
    client.force_login(admin)

    response = client.get("/admin/accounts/user/?q=root")

    assert response.status_code == 200
    assert b"root@example.com" in response.content


def test_cors_allows_the_configured_origins(api_client):
    response = api_client.options(
        "/api/v1/auth/login",
        HTTP_ORIGIN="http://localhost:5173",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )

    assert response["access-control-allow-origin"] == "http://localhost:5173"


def test_secrets_never_reach_a_log_line():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    line = redact(
        f'headers {{"Authorization": "Bearer {jwt}", "password": "hunter2", "totp": "123456"}}'
    )

    assert jwt not in line and "hunter2" not in line and "123456" not in line


def test_request_log_has_method_path_status_but_no_query_string(api_client, caplog):
    with caplog.at_level(logging.INFO, logger="trading_signals.requests"):
        api_client.get("/health?token=eyJsecret.eyJsecret.sig")

    line = caplog.records[-1].getMessage()
    assert line.startswith("GET /health 200")
    assert "token" not in line
