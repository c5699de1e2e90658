"""The configuration checks (trading_signals/checks.py): each bad value gives its id."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.test import override_settings

from trading_signals import checks

ROOT = Path(__file__).resolve().parents[2]
SHORT_KEY = "only-twenty-bytes-xx"


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_default_settings_pass_every_check():
    assert [check(None) for check in checks.CHECKS] == [[] for _ in checks.CHECKS]
    assert [message for message in run_checks() if message.is_serious()] == []


def test_the_checks_are_registered():
    jwt = {**settings.SIMPLE_JWT, "ALGORITHM": "RS256"}
    with override_settings(FEED_FLUSH_TICKS=0, SIMPLE_JWT=jwt):
        found = ids(run_checks())

    assert "marketdata.E001" in found
    assert "trading_signals.E002" in found


@pytest.mark.parametrize("name", checks.FEED_POSITIVE)
@pytest.mark.parametrize("value", [0, -1, "10", None, True])
def test_feed_settings_must_be_positive_numbers(name, value):
    with override_settings(**{name: value}):
        errors = checks.check_feed_settings()

    assert ids(errors) == ["marketdata.E001"]
    assert name in errors[0].msg
    assert repr(value) in errors[0].msg


def test_the_feed_buffer_must_hold_a_batch():
    with override_settings(FEED_BUFFER_MAX_TICKS=10, FEED_FLUSH_TICKS=11):
        errors = checks.check_feed_settings()

    assert ids(errors) == ["marketdata.E002"]
    assert "FEED_BUFFER_MAX_TICKS (10)" in errors[0].msg
    assert "FEED_FLUSH_TICKS (11)" in errors[0].msg


def test_a_buffer_of_exactly_one_batch_is_enough():
    with override_settings(FEED_BUFFER_MAX_TICKS=10, FEED_FLUSH_TICKS=10):
        assert checks.check_feed_settings() == []


@pytest.mark.parametrize("stale", [5, 4])
def test_a_heartbeat_stale_limit_within_one_beat_is_warned_about(stale):
    with override_settings(FEED_HEARTBEAT_SECONDS=5.0, FEED_HEARTBEAT_STALE_SECONDS=stale):
        warnings = checks.check_feed_heartbeat()

    assert ids(warnings) == ["marketdata.W001"]
    assert not warnings[0].is_serious()


@pytest.mark.parametrize("name", checks.LIVE_POSITIVE)
@pytest.mark.parametrize("value", [0, -5, 0.0])
def test_live_push_limits_must_be_positive(name, value):
    with override_settings(**{name: value}):
        errors = checks.check_live_settings()

    assert ids(errors) == ["marketdata.E001"]
    assert f"{name} must be a positive number, not {value!r}" in errors[0].msg


@pytest.mark.parametrize("name", checks.SUPERVISOR_POSITIVE)
def test_supervisor_settings_must_be_positive(name):
    with override_settings(**{name: 0}):
        errors = checks.check_supervisor_settings()

    assert ids(errors) == ["marketdata.E001"]
    assert name in errors[0].msg


@pytest.mark.parametrize("name", checks.MARKET_DATA_POSITIVE)
def test_tick_grading_thresholds_must_be_positive(name):
    with override_settings(**{name: 0}):
        errors = checks.check_market_data_settings()

    assert ids(errors) == ["marketdata.E001"]
    assert name in errors[0].msg


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("FEED_SUPERVISOR_PREOPEN_MINUTES", checks.check_supervisor_settings),
        ("MARKET_DATA_MAX_CLOCK_SKEW_SECONDS", checks.check_market_data_settings),
    ],
)
def test_leads_and_allowances_may_be_zero_but_not_negative(name, check):
    with override_settings(**{name: 0}):
        assert check() == []
    with override_settings(**{name: -1}):
        errors = check()

    assert ids(errors) == ["marketdata.E003"]
    assert f"{name} must be zero or a positive number, not -1" in errors[0].msg


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_hmac_jwt_algorithms_pass(algorithm):
    with override_settings(SIMPLE_JWT={**settings.SIMPLE_JWT, "ALGORITHM": algorithm}):
        assert checks.check_jwt_algorithm() == []


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA", "none", "hs256"])
def test_other_jwt_algorithms_are_refused(algorithm):
    with override_settings(SIMPLE_JWT={**settings.SIMPLE_JWT, "ALGORITHM": algorithm}):
        errors = checks.check_jwt_algorithm()

    assert ids(errors) == ["trading_signals.E002"]
    assert repr(algorithm) in errors[0].msg


@pytest.mark.parametrize("environment", ["development", "test", "production"])
def test_a_signing_key_under_32_bytes_is_refused_everywhere_and_never_shown(environment):
    jwt = {**settings.SIMPLE_JWT, "ALGORITHM": "HS256", "SIGNING_KEY": SHORT_KEY}
    with override_settings(ENVIRONMENT=environment, SIMPLE_JWT=jwt):
        errors = checks.check_jwt_signing_key()

    assert ids(errors) == ["trading_signals.E003"]
    assert "20 bytes" in errors[0].msg and "HS256 needs at least 32" in errors[0].msg
    assert SHORT_KEY not in errors[0].msg
    assert SHORT_KEY not in (errors[0].hint or "")


@pytest.mark.parametrize(("algorithm", "needed"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_the_signing_key_must_be_as_long_as_the_algorithms_hash(algorithm, needed):
    def errors_with(size: int) -> list[str]:
        jwt = {**settings.SIMPLE_JWT, "ALGORITHM": algorithm, "SIGNING_KEY": "k" * size}
        with override_settings(SIMPLE_JWT=jwt):
            return ids(checks.check_jwt_signing_key())

    assert errors_with(needed) == []
    assert errors_with(needed - 1) == ["trading_signals.E003"]


def test_without_a_signing_key_the_secret_key_is_measured():
    jwt = {key: value for key, value in settings.SIMPLE_JWT.items() if key != "SIGNING_KEY"}
    with override_settings(SIMPLE_JWT=jwt, SECRET_KEY=SHORT_KEY):
        assert ids(checks.check_jwt_signing_key()) == ["trading_signals.E003"]


@pytest.mark.parametrize("days", [0, 1, 365])
def test_retention_of_zero_or_more_days_passes(days):
    with override_settings(MARKETDATA_RETENTION_DAYS=days):
        assert checks.check_retention() == []


@pytest.mark.parametrize("days", [-1, 1.5, "7"])
def test_retention_must_be_whole_days_not_negative(days):
    with override_settings(MARKETDATA_RETENTION_DAYS=days):
        errors = checks.check_retention()

    assert ids(errors) == ["trading_signals.E004"]
    assert repr(days) in errors[0].msg


def test_manage_py_check_fails_naming_the_id_and_the_setting():
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MONGODB_URL"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "FEED_FLUSH_TICKS": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "marketdata.E001" in result.stderr
    assert "FEED_FLUSH_TICKS must be a positive number, not 0" in result.stderr
