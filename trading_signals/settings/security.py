"""Secrets, debugging, the hosts and origins the server answers to, and production hardening.

The start-up stops here (ImproperlyConfigured) when ENVIRONMENT=production runs with the default
SECRET_KEY or with DEBUG=True; `manage.py check --deploy` is clean under production settings.
"""

import json

from django.core.exceptions import ImproperlyConfigured

from trading_signals.settings.base import IS_PRODUCTION
from trading_signals.settings.environment import env, env_bool

INSECURE_SECRET_KEY = "insecure-development-key-change-me"  # noqa: S105 - refused in production

DEBUG = env_bool("DEBUG", default=not IS_PRODUCTION)
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)

if IS_PRODUCTION and SECRET_KEY == INSECURE_SECRET_KEY:
    raise ImproperlyConfigured("ENVIRONMENT=production needs a real SECRET_KEY.")
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("ENVIRONMENT=production refuses DEBUG=True.")

# While debugging, static files are served straight from the apps (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])


def _origin_list(raw: str) -> list[str]:
    """Accept the seed's JSON list (`["http://a", "http://b"]`) or a comma list."""
    raw = raw.strip()
    if raw.startswith("["):
        return [str(origin) for origin in json.loads(raw)]
    return [origin.strip() for origin in raw.split(",") if origin.strip()]


# The browser origins allowed to call the API (CORS, in api.py) and, in production, to post forms.
ALLOWED_ORIGINS = _origin_list(
    env.str("ALLOWED_ORIGINS", default='["http://localhost:3000", "http://localhost:5173"]')
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
