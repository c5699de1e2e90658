"""Where the settings come from: the process environment, then `.env` in the project if present.

`env` reads typed variables (django-environ); `env_bool` is the strict reader every true/false
setting uses. Reading `.env` is the only file access here; importing the settings writes
nothing, except the key made once outside production when SECRET_KEY is unset (security.py).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_bool(name: str, *, default: bool) -> bool:
    """A boolean variable; anything but a clear yes or no stops the start-up."""
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS | FALSE_WORDS:
        return raw in TRUE_WORDS
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")
