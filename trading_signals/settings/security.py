"""Secrets, debugging, the hosts and origins the server answers to, and production hardening.

Every rule here fails closed, stopping the start-up (ImproperlyConfigured) in every process,
including those that run no system checks (daphne, Celery):

- no publicly known key signs anything: the keys this project ever shipped are refused in any
  environment; production needs its own SECRET_KEY (and JWT_SIGNING_KEY, when set) of at least
  MIN_KEY_BYTES; elsewhere an unset SECRET_KEY is a random key made on first use and kept in
  SECRET_KEY_FILE (git-ignored), so tokens outlive a restart and every process shares it;
- DEBUG is on only when asked for, and only in development;
- production answers only the ALLOWED_HOSTS and ALLOWED_ORIGINS it is given: no defaults.

Error pages and logs mask the credentials in URLs (trading_signals/logging.py); the JWT
algorithm and the key's length for it are system checks (trading_signals/checks.py).
`manage.py check --deploy` is clean under production settings.
"""

import json
import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from trading_signals.settings.base import ENVIRONMENT, IS_PRODUCTION
from trading_signals.settings.environment import BASE_DIR, env, env_bool

# Defaults and examples this project once shipped: anyone can sign tokens with them.
PUBLIC_KEYS = frozenset(
    {"insecure-development-key-change-me", "your-secret-key-here-make-it-long-and-secure"}
)
MIN_KEY_BYTES = 32
KEY_ADVICE = "e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(50))'`"


def _key(name: str) -> str:
    """A signing key from the environment, "" when unset. Its value never shows in a message."""
    value: str = env.str(name, default="")
    if value in PUBLIC_KEYS:
        raise ImproperlyConfigured(
            f"{name} is a publicly known example value; set a random one ({KEY_ADVICE})."
        )
    size = len(value.encode())
    if IS_PRODUCTION and value and size < MIN_KEY_BYTES:
        raise ImproperlyConfigured(
            f"{name} is {size} bytes long; ENVIRONMENT=production needs at least "
            f"{MIN_KEY_BYTES} ({KEY_ADVICE})."
        )
    return value


def _generated_key(path: Path) -> str:
    """The key kept in `path`, made on first use: random, readable by its owner only."""
    if not path.is_file():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent)  # mode 0600
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50))
        try:
            # A link is atomic and never replaces a file: when processes start together, the
            # first one's key wins and every one of them reads it.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


SECRET_KEY_FILE = Path(env.str("SECRET_KEY_FILE", default=str(BASE_DIR / ".local" / "secret_key")))
SECRET_KEY = _key("SECRET_KEY")
if not SECRET_KEY and IS_PRODUCTION:
    raise ImproperlyConfigured(f"ENVIRONMENT=production needs SECRET_KEY ({KEY_ADVICE}).")
SECRET_KEY = SECRET_KEY or _generated_key(SECRET_KEY_FILE)
# Signs the JWTs (settings/api.py); SECRET_KEY when unset.
JWT_SIGNING_KEY = _key("JWT_SIGNING_KEY") or SECRET_KEY

DEBUG = env_bool("DEBUG", default=False)
if DEBUG and ENVIRONMENT != "development":
    raise ImproperlyConfigured(
        f"ENVIRONMENT={ENVIRONMENT} refuses DEBUG=True: debugging is for development only."
    )

# Outside production, static files are served straight from the apps (no collectstatic needed).
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
# Debug error pages show the settings: URLs' credentials (REDIS_URL, CACHES, ...) are masked.
DEFAULT_EXCEPTION_REPORTER_FILTER = "trading_signals.logging.CredentialsMaskingReporterFilter"


def _names(raw: str) -> list[str]:
    """A comma list, or a JSON list (the seed's form of ALLOWED_ORIGINS)."""
    raw = raw.strip()
    if raw.startswith("["):
        return [str(name) for name in json.loads(raw)]
    return [name.strip() for name in raw.split(",") if name.strip()]


def _given_in_production(name: str, *, meaning: str, development: str) -> list[str]:
    """The names the variable lists; when it is unset, `development` outside production and an
    error in production: a deployment says which hosts and origins it serves."""
    names = _names(env.str(name, default=""))
    if names or not IS_PRODUCTION:
        return names or _names(development)
    raise ImproperlyConfigured(
        f"ENVIRONMENT=production needs {name}: {meaning}, a comma list (see .env.example)."
    )


ALLOWED_HOSTS = _given_in_production(
    "ALLOWED_HOSTS", meaning="the host names it serves", development="127.0.0.1,localhost"
)
# The browser origins allowed to call the API (CORS, in api.py) and, in production, to post forms.
ALLOWED_ORIGINS = _given_in_production(
    "ALLOWED_ORIGINS",
    meaning="the browser origins allowed to call the API",
    development="http://localhost:3000,http://localhost:5173",
)

if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = ALLOWED_ORIGINS
