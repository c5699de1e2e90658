"""The project's own endpoints: `/health`, `/` and the API docs (`trading_signals/api/views.py`,
`trading_signals/urls.py`)."""

import json
import os

import pytest
from django.test import override_settings

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
