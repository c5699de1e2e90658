import os
import subprocess
import sys

import pytest
from django.conf import settings

from trading_signals.logging import FolderCreatingRotatingFileHandler
from trading_signals.settings.security import _names
from trading_signals.tests.startup import PRODUCTION, ROOT, run_django, run_shell


def test_production_refuses_to_start_without_a_real_secret_key():
    result = run_django(["check"], **{**PRODUCTION, "SECRET_KEY": ""})

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_debug():
    result = run_django(["check"], **PRODUCTION, DEBUG="True")

    assert result.returncode != 0
    assert "DEBUG=True" in result.stderr


def test_a_boolean_that_is_neither_true_nor_false_stops_the_start_up():
    result = run_django(["check"], DEBUG="maybe")

    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("NUM_PROXIES", "-1"), ("API_MAX_BODY_BYTES", "0"), ("SESSION_MAX_DAYS", "0")],
)
def test_limits_out_of_range_stop_the_start_up(name, value):
    result = run_django(["check"], **{name: value})

    assert result.returncode != 0
    assert name in result.stderr


def test_deploy_check_is_clean_under_production_settings():
    result = run_django(["check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(("enabled", "supervised"), [("", True), ("false", False)])
def test_beat_supervises_the_feed_unless_told_another_process_runs_it(enabled, supervised):
    code = "from django.conf import settings; print(sorted(settings.CELERY_BEAT_SCHEDULE))"
    result = run_shell(code, FEED_SUPERVISOR_ENABLED=enabled)

    assert result.returncode == 0, result.stderr
    assert ("feed-supervise" in result.stdout) is supervised
    assert "signals-expire" in result.stdout  # the other jobs run either way


@pytest.mark.parametrize(
    "raw",
    [
        '["http://localhost:3000", "http://localhost:5173"]',
        "http://localhost:3000, http://localhost:5173",
    ],
)
def test_allowed_origins_accepts_the_seed_json_list_and_a_comma_list(raw):
    assert _names(raw) == ["http://localhost:3000", "http://localhost:5173"]


def test_access_token_settings_follow_the_seed_variables():
    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() == 30 * 60
    assert settings.SIMPLE_JWT["ALGORITHM"] == "HS256"


def test_both_migration_sets_match_the_models():
    sql = run_django(["makemigrations", "--check", "--dry-run"], MONGODB_URL="")
    mongo = run_django(
        ["makemigrations_mongo", "--check", "--dry-run"], MONGODB_URL="mongodb://127.0.0.1:27017"
    )

    assert sql.returncode == 0, sql.stdout + sql.stderr
    assert mongo.returncode == 0, mongo.stdout + mongo.stderr


def test_importing_the_settings_creates_no_folder(tmp_path):
    log_dir = tmp_path / "fresh" / "logs"
    result = subprocess.run(
        [sys.executable, "-c", "import trading_signals.settings"],
        cwd=ROOT,
        env={**os.environ, "LOG_DIR": str(log_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "fresh").exists()


def test_a_log_dir_that_does_not_exist_yet_is_created_when_logging_starts(tmp_path):
    log_dir = tmp_path / "fresh" / "logs"

    result = run_django(["check"], LOG_DIR=str(log_dir))

    assert result.returncode == 0, result.stderr
    assert (log_dir / "app.log").is_file()


def test_the_file_handler_creates_its_folder(tmp_path):
    handler = FolderCreatingRotatingFileHandler(tmp_path / "a" / "b" / "app.log", maxBytes=1024)
    try:
        assert (tmp_path / "a" / "b" / "app.log").is_file()
    finally:
        handler.close()
