"""Starting the project in a fresh process with a given environment: the settings are read when
they are imported, so what a configuration does at start-up shows only in a new process."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "p8Zq-3vN!xR7kL2mW9sT4yB6hJ1dF5gC0aE8uI3oP7nM2bV4cX6z"
# A complete production configuration; tests take one part away or change it.
PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "api.example.com",
    "ALLOWED_ORIGINS": "https://app.example.com",
}
# The variables these tests decide: whatever the caller's shell has for them is left out.
DECIDED = {
    "ENVIRONMENT",
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "JWT_SIGNING_KEY",
    "ALGORITHM",
    "ALLOWED_HOSTS",
    "ALLOWED_ORIGINS",
}


def run_django(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` with the caller's environment, except DECIDED, plus `env`."""
    clean = {name: value for name, value in os.environ.items() if name not in DECIDED}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_shell(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Python `code` run by `manage.py shell` (so with the project set up) under `env`."""
    return run_django(["shell", "--no-imports", "--command", code], **env)
