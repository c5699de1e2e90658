"""Configuration that fails closed (issue 13, section 4): an environment name spelled loosely,
published or short keys, debugging, hosts and origins, and credentials in URL settings.

The settings are read at import, so start-up behaviour runs in a fresh process
(trading_signals/tests/startup.py).
"""

import json
import stat
import sys

import jwt
import pytest
from django.conf import settings
from django.test import override_settings
from django.views.debug import technical_500_response

from accounts.services import auth_login
from conftest import PASSWORD
from trading_signals.settings.security import PUBLIC_KEYS
from trading_signals.tests.startup import PRODUCTION, STRONG_KEY, run_django, run_shell

SHOW_SETTINGS = (
    "import json; from django.conf import settings as s; print(json.dumps({name: getattr(s, "
    "name, None) for name in ('ENVIRONMENT', 'DEBUG', 'SECURE_SSL_REDIRECT', 'ALLOWED_HOSTS', "
    "'CORS_ALLOWED_ORIGINS', 'CSRF_TRUSTED_ORIGINS')}))"
)


def settings_under(**env: str) -> dict:
    result = run_shell(SHOW_SETTINGS, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- ENVIRONMENT ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "environment"),
    [
        ("Production", "production"),
        (" production", "production"),
        ("PROD ", "production"),
        ("Dev", "development"),
        ("TEST", "test"),
    ],
)
def test_environment_names_are_read_in_any_case_and_trimmed(spelling, environment):
    found = settings_under(**{**PRODUCTION, "ENVIRONMENT": spelling})

    assert found["ENVIRONMENT"] == environment
    assert found["DEBUG"] is False
    assert found["SECURE_SSL_REDIRECT"] is (environment == "production")


def test_production_spelled_loosely_still_refuses_to_start_without_a_key():
    result = run_django(["check"], **{**PRODUCTION, "ENVIRONMENT": "Production", "SECRET_KEY": ""})

    assert result.returncode != 0
    assert "ENVIRONMENT=production needs SECRET_KEY" in result.stderr


@pytest.mark.parametrize("name", ["staging", "prodution", "live"])
def test_an_unknown_environment_stops_the_start_up(name):
    result = run_django(["check"], **{**PRODUCTION, "ENVIRONMENT": name})

    assert result.returncode != 0
    assert (
        "ENVIRONMENT must be development (or dev), test or production (or prod), "
        f"not {name!r}" in result.stderr
    )


# --- DEBUG ----------------------------------------------------------------------------------


def test_debug_is_off_unless_asked_for_and_on_when_asked_for_in_development():
    assert settings_under()["DEBUG"] is False
    assert settings_under(ENVIRONMENT="development", DEBUG="true")["DEBUG"] is True


@pytest.mark.parametrize("environment", ["test", "prod"])
def test_debug_outside_development_stops_the_start_up(environment):
    result = run_django(["check"], **{**PRODUCTION, "ENVIRONMENT": environment, "DEBUG": "true"})

    assert result.returncode != 0
    assert "refuses DEBUG=True: debugging is for development only" in result.stderr


# --- Keys -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(PUBLIC_KEYS))
def test_a_token_signed_with_a_published_key_is_refused(api_client, user, key):
    real = auth_login(email=user.email, password=PASSWORD).access_token
    forged = jwt.encode(jwt.decode(real, options={"verify_signature": False}), key, "HS256")

    response = api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {forged}")

    assert response.status_code == 401


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SIGNING_KEY"])
@pytest.mark.parametrize("environment", ["development", "production"])
def test_a_published_key_stops_the_start_up_in_every_environment(name, environment):
    key = "insecure-development-key-change-me"
    result = run_django(["check"], **{**PRODUCTION, "ENVIRONMENT": environment, name: key})

    assert result.returncode != 0
    assert f"{name} is a publicly known example value" in result.stderr


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SIGNING_KEY"])
def test_production_refuses_a_key_under_32_bytes(name):
    result = run_django(["check"], **{**PRODUCTION, name: "k" * 31})

    assert result.returncode != 0
    assert f"{name} is 31 bytes long; ENVIRONMENT=production needs at least 32" in result.stderr


ISSUE_TOKEN = (
    "from rest_framework_simplejwt.tokens import AccessToken; "
    "token = AccessToken(); token['user_id'] = '1'; print(token)"
)
VERIFY_TOKEN = (
    "import os; from rest_framework_simplejwt.tokens import AccessToken; "
    "AccessToken(os.environ['TOKEN']); print('valid')"
)


def test_without_a_secret_key_a_random_one_is_made_once_and_outlives_a_restart(tmp_path):
    key_file = tmp_path / "state" / "secret_key"

    issued = run_shell(ISSUE_TOKEN, SECRET_KEY_FILE=str(key_file))
    token = issued.stdout.strip()
    after_restart = run_shell(VERIFY_TOKEN, SECRET_KEY_FILE=str(key_file), TOKEN=token)
    elsewhere = run_shell(VERIFY_TOKEN, SECRET_KEY_FILE=str(tmp_path / "other"), TOKEN=token)

    assert issued.returncode == 0, issued.stderr
    assert after_restart.stdout.strip() == "valid", after_restart.stderr
    assert elsewhere.returncode != 0  # another checkout made its own key
    assert len(key_file.read_text().strip()) >= 64
    assert key_file.read_text().strip() not in PUBLIC_KEYS
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700


def test_no_key_file_is_made_when_a_key_is_given_or_in_production(tmp_path):
    key_file = tmp_path / "secret_key"

    given = run_django(["check"], SECRET_KEY=STRONG_KEY, SECRET_KEY_FILE=str(key_file))
    production = run_django(
        ["check"], **{**PRODUCTION, "SECRET_KEY": "", "SECRET_KEY_FILE": str(key_file)}
    )

    assert given.returncode == 0, given.stderr
    assert production.returncode != 0
    assert not key_file.exists()


# --- System checks: the JWT algorithm and the key's length ----------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_an_asymmetric_jwt_algorithm_fails_the_check(algorithm):
    result = run_django(["check"], ALGORITHM=algorithm)

    assert result.returncode != 0
    assert "trading_signals.E002" in result.stderr
    assert f"must be one of HS256, HS384, HS512, not {algorithm!r}" in result.stderr


def test_a_short_jwt_signing_key_fails_the_deploy_check_in_development():
    result = run_django(["check", "--deploy"], JWT_SIGNING_KEY="abc")

    assert result.returncode != 0
    assert "trading_signals.E003" in result.stderr
    assert "is 3 bytes long; HS256 needs at least 32" in result.stderr


# --- Hosts and origins ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ALLOWED_HOSTS", "ALLOWED_ORIGINS"])
def test_production_needs_its_hosts_and_origins_given(name):
    result = run_django(["check"], **{**PRODUCTION, name: ""})

    assert result.returncode != 0
    assert f"ENVIRONMENT=production needs {name}" in result.stderr


def test_production_answers_and_trusts_only_what_it_is_given():
    found = settings_under(**PRODUCTION)

    assert found["ALLOWED_HOSTS"] == ["api.example.com"]
    assert found["CORS_ALLOWED_ORIGINS"] == ["https://app.example.com"]
    assert found["CSRF_TRUSTED_ORIGINS"] == ["https://app.example.com"]


def test_development_answers_only_the_local_host_names():
    assert settings_under()["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]


# --- Credentials in URL settings on the debug error page ------------------------------------

URL_PASSWORD = "s3cr3t-redis-pw"
REDIS_URL = f"redis://:{URL_PASSWORD}@cache.internal:6379/0"
URL_SETTINGS = {
    "REDIS_URL": REDIS_URL,
    "CACHES": {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    },
    "CHANNEL_LAYERS": {"default": {"BACKEND": "x.Layer", "CONFIG": {"url": REDIS_URL}}},
    "CELERY_BROKER_URL": REDIS_URL,
    "MONGODB_URL": f"mongodb+srv://trader:{URL_PASSWORD}@cluster0.example.net/?w=majority",
}


@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
def test_the_debug_error_page_masks_the_credentials_of_every_url(rf, accept):
    with override_settings(DEBUG=True, **URL_SETTINGS):
        broker = settings.CELERY_BROKER_URL  # a local of the failing frame, shown on the page
        try:
            raise ConnectionError(f"cannot reach the broker at {broker.rsplit('@')[-1]}")
        except ConnectionError:
            response = technical_500_response(rf.get("/", HTTP_ACCEPT=accept), *sys.exc_info())

    page = response.content.decode()
    assert "CHANNEL_LAYERS" in page and "cache.internal:6379/0" in page
    assert "cluster0.example.net" in page
    assert URL_PASSWORD not in page
