"""The REST API: Django REST framework, JWT (simplejwt), throttles, body limits, the OpenAPI
schema and CORS. docs/security.md explains the limits and the token rules.

The JWT algorithm and the signing key's length for it are checked at start-up
(trading_signals/checks.py); the key itself comes from security.py. The limits below refuse to
start when out of range.
"""

import re
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from trading_signals.settings.base import APP_NAME, APP_VERSION
from trading_signals.settings.environment import env
from trading_signals.settings.security import ALLOWED_ORIGINS, JWT_SIGNING_KEY

CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS

# Proxies in front of the server that append to X-Forwarded-For. 0 (the default): the client
# is the connection's address and X-Forwarded-For is ignored; N: the N-th address from the
# right of X-Forwarded-For. Every throttle (the API's and the admin login's) uses it.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
# Login and register attempts per client address (one count for the API and /admin/login/)...
AUTH_THROTTLE_RATE = env.str("AUTH_THROTTLE_RATE", default="20/min")
# ...and login attempts per account (the normalised email), whatever address they come from.
AUTH_ACCOUNT_THROTTLE_RATE = env.str("AUTH_ACCOUNT_THROTTLE_RATE", default="10/hour")
# The largest request body outside /admin/, in bytes; larger ones get a 413 unread.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
# Market-data reads per signed-in user, every market-data endpoint together.
MARKET_READ_THROTTLE_RATE = env.str("MARKET_READ_THROTTLE_RATE", default="600/min")
# How long a computed statistics report is served again (it reads every stored tick).
MARKET_STATISTICS_CACHE_SECONDS = env.int("MARKET_STATISTICS_CACHE_SECONDS", default=5)
# The option chain (docs/options.md): a contract's last price older than this, before the
# spot's tick, gets no implied volatility ("stale_price").
OPTION_PRICE_STALE_SECONDS = env.float("OPTION_PRICE_STALE_SECONDS", default=120.0)
# The annual risk-free rate (continuously compounded) of the Black-76 model: it discounts
# premiums, and carries the spot to a forward when no call and put are both priced.
OPTION_RISK_FREE_RATE = env.float("OPTION_RISK_FREE_RATE", default=0.065)

if NUM_PROXIES < 0:
    raise ImproperlyConfigured("NUM_PROXIES must be 0 or more.")
if API_MAX_BODY_BYTES < 1:
    raise ImproperlyConfigured("API_MAX_BODY_BYTES must be a positive number of bytes.")
if not re.fullmatch(r"[1-9][0-9]*/[smhd][a-z]*", MARKET_READ_THROTTLE_RATE):
    raise ImproperlyConfigured("MARKET_READ_THROTTLE_RATE must look like 600/min.")
if MARKET_STATISTICS_CACHE_SECONDS < 0:
    raise ImproperlyConfigured("MARKET_STATISTICS_CACHE_SECONDS must be 0 or more.")
if not OPTION_PRICE_STALE_SECONDS > 0:
    raise ImproperlyConfigured("OPTION_PRICE_STALE_SECONDS must be a positive number of seconds.")
if not 0 <= OPTION_RISK_FREE_RATE < 1:
    raise ImproperlyConfigured("OPTION_RISK_FREE_RATE must be a yearly rate from 0 to 1 (0.065).")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's checks, plus revocation and the session's lifetime (accounts.services).
        "accounts.authentication.BearerAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "trading_signals.api.errors.api_exception_handler",
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

ACCESS_TOKEN_EXPIRE_MINUTES = env.int("ACCESS_TOKEN_EXPIRE_MINUTES", default=30)
REFRESH_TOKEN_EXPIRE_DAYS = env.int("REFRESH_TOKEN_EXPIRE_DAYS", default=7)
# A session (a login and the refreshes that follow it) ends this many days after the login:
# refreshing cannot extend it.
SESSION_MAX_DAYS = env.int("SESSION_MAX_DAYS", default=30)

if SESSION_MAX_DAYS < 1:
    raise ImproperlyConfigured("SESSION_MAX_DAYS must be 1 or more.")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_EXPIRE_DAYS),
    "ALGORITHM": env.str("ALGORITHM", default="HS256"),
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "UPDATE_LAST_LOGIN": False,
    "USER_ID_FIELD": "id",
}

SPECTACULAR_SETTINGS = {
    "TITLE": APP_NAME,
    "VERSION": APP_VERSION,
    "DESCRIPTION": "Live Indian index ticks from Angel One SmartAPI, and curated option signals.",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}
