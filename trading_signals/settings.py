"""Settings for Trading Signals, read from the environment (and `.env` when present).

Every variable is documented in `.env.example`.
"""

import json
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

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


INSECURE_SECRET_KEY = "insecure-development-key-change-me"  # noqa: S105 - refused in production

APP_NAME = env.str("APP_NAME", default="Trading Signals API")
APP_VERSION = "1.0.0"
ENVIRONMENT = env.str("ENVIRONMENT", default="development")
IS_PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("DEBUG", default=not IS_PRODUCTION)
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)

if IS_PRODUCTION and SECRET_KEY == INSECURE_SECRET_KEY:
    raise ImproperlyConfigured("ENVIRONMENT=production needs a real SECRET_KEY.")
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("ENVIRONMENT=production refuses DEBUG=True.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])


def _origin_list(raw: str) -> list[str]:
    """Accept the seed's JSON list (`["http://a", "http://b"]`) or a comma list."""
    raw = raw.strip()
    if raw.startswith("["):
        return [str(origin) for origin in json.loads(raw)]
    return [origin.strip() for origin in raw.split(",") if origin.strip()]


ALLOWED_ORIGINS = _origin_list(
    env.str("ALLOWED_ORIGINS", default='["http://localhost:3000", "http://localhost:5173"]')
)
CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS

# --- Storage: MongoDB when MONGODB_URL is set, else DATABASE_URL, else embedded SQLite ---
MONGODB_URL = env.str("MONGODB_URL", default="")
DATABASE_NAME = env.str("DATABASE_NAME", default="trading_signals")
USES_MONGODB = bool(MONGODB_URL)

if USES_MONGODB:
    DATABASES = {
        "default": {"ENGINE": "django_mongodb_backend", "HOST": MONGODB_URL, "NAME": DATABASE_NAME}
    }
    DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
    MIGRATION_MODULES = {
        app: f"mongo_migrations.{app}"
        for app in (
            "admin",
            "auth",
            "contenttypes",
            "accounts",
            "marketdata",
            "signals",
        )
    }
else:
    DATABASES = {
        "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    }
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the feed write while the API reads; the timeout rides out short locks.
        DATABASES["default"]["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }

# --- Redis: cache, channel layer and Celery broker when REDIS_URL is set ---
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    # One Redis pub/sub message per tick, fanned out in each server process (docs/live-push.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "marketdata.live.layer.FanoutChannelLayer",
            "CONFIG": {"url": REDIS_URL},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Only valid while the server and the feed share one process (the embedded default).
    CHANNEL_LAYERS = {"default": {"BACKEND": "marketdata.live.layer.FanoutChannelLayer"}}

# Apps whose models get auto primary keys: on MongoDB they must be ObjectIdAutoField.
AUTO_KEYED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
]
if USES_MONGODB:
    AUTO_KEYED_APPS = [
        "trading_signals.mongo_apps.MongoAdminConfig",
        "trading_signals.mongo_apps.MongoAuthConfig",
        "trading_signals.mongo_apps.MongoContentTypesConfig",
    ]

INSTALLED_APPS = [
    "daphne",
    *AUTO_KEYED_APPS,
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "channels",
    "trading_signals",
    "accounts",
    "marketdata",
    "signals",
]
if USES_MONGODB:
    INSTALLED_APPS.append("django_mongodb_backend")

MIDDLEWARE = [
    "trading_signals.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "trading_signals.urls"
ASGI_APPLICATION = "trading_signals.asgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG

# --- REST API and JWT ---
AUTH_THROTTLE_RATE = env.str("AUTH_THROTTLE_RATE", default="20/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "trading_signals.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth": AUTH_THROTTLE_RATE},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

ACCESS_TOKEN_EXPIRE_MINUTES = env.int("ACCESS_TOKEN_EXPIRE_MINUTES", default=30)
REFRESH_TOKEN_EXPIRE_DAYS = env.int("REFRESH_TOKEN_EXPIRE_DAYS", default=7)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_EXPIRE_DAYS),
    "ALGORITHM": env.str("ALGORITHM", default="HS256"),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
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

# --- Angel One SmartAPI ---
ANGEL_ONE_API_KEY = env.str("ANGEL_ONE_API_KEY", default="")
ANGEL_ONE_CLIENT_ID = env.str("ANGEL_ONE_CLIENT_ID", default="")
ANGEL_ONE_PASSWORD = env.str("ANGEL_ONE_PASSWORD", default="")
ANGEL_ONE_TOTP_KEY = env.str("ANGEL_ONE_TOTP_KEY", default="")

# --- Logging: console and a rotating logs/app.log ---
LOG_DIR = Path(env.str("LOG_DIR", default=str(BASE_DIR / "logs")))
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "trading_signals.logging.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
        "file": {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": str(LOG_DIR / "app.log"),
            "maxBytes": 10 * 1024 * 1024,
            "backupCount": 5,
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console", "file"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# --- Production hardening (manage.py check --deploy is clean with ENVIRONMENT=production) ---
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

# --- Celery: Redis broker when REDIS_URL is set ---
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "Asia/Kolkata"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL

# --- Celery beat, the feed supervisor and scheduled jobs (issue 7) ---
from celery.schedules import crontab  # noqa: E402 - kept with the schedule it builds

# Seconds between supervisor passes; each pass starts or stops `run_feed` as the calendar says.
FEED_SUPERVISOR_INTERVAL = env.int("FEED_SUPERVISOR_INTERVAL", default=30)
# The feed is started this many minutes before the open (login and subscribe take a moment).
FEED_SUPERVISOR_PREOPEN_MINUTES = env.int("FEED_SUPERVISOR_PREOPEN_MINUTES", default=5)
# Time a freshly started feed gets to write its first heartbeat before it counts as failed.
FEED_SUPERVISOR_STARTUP_SECONDS = env.int("FEED_SUPERVISOR_STARTUP_SECONDS", default=90)
# A feed up this long clears the failure count.
FEED_SUPERVISOR_STABLE_SECONDS = env.int("FEED_SUPERVISOR_STABLE_SECONDS", default=300)
# Consecutive failed starts before the supervisor gives up until the next session.
FEED_SUPERVISOR_MAX_FAILURES = env.int("FEED_SUPERVISOR_MAX_FAILURES", default=5)
# Wait after the first failed start; doubles after each further failure, capped at 15 minutes.
FEED_SUPERVISOR_BACKOFF_SECONDS = env.int("FEED_SUPERVISOR_BACKOFF_SECONDS", default=30)
# The command the supervisor runs; empty means `<this python> manage.py run_feed`.
FEED_SUPERVISOR_COMMAND = env.str("FEED_SUPERVISOR_COMMAND", default="")
# Ticks older than this many days are deleted nightly; 0 keeps them forever.
MARKETDATA_RETENTION_DAYS = env.int("MARKETDATA_RETENTION_DAYS", default=0)

CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep Django's LOGGING, with its secret redaction
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {
    "feed-supervise": {
        "task": "marketdata.tasks.feed_supervise",
        "schedule": float(FEED_SUPERVISOR_INTERVAL),
        "options": {"expires": FEED_SUPERVISOR_INTERVAL},
    },
    "angelone-session-refresh": {
        "task": "marketdata.tasks.angelone_session_refresh",
        "schedule": crontab(minute=45, hour=8),
    },
    "ticks-backfill": {
        # The day's gaps; an outage during the session is backfilled as soon as the supervisor
        # sees the feed back. 22:45 as well, for special evening sessions.
        "task": "marketdata.tasks.ticks_backfill",
        "schedule": crontab(minute=45, hour="15,22"),
    },
    "daily-candles-build": {
        # After the last backfill run of the day; 23:00 as well, for special evening sessions.
        "task": "marketdata.tasks.daily_candles_build",
        "schedule": crontab(minute=0, hour="16,23"),
    },
    "ticks-purge": {
        "task": "marketdata.tasks.ticks_purge",
        "schedule": crontab(minute=30, hour=2),
    },
    "signals-expire": {"task": "signals.tasks.signals_expire", "schedule": 60.0},
    "revoked-tokens-purge": {
        "task": "accounts.tasks.revoked_tokens_purge",
        "schedule": crontab(minute=0, hour=3),
    },
}

# --- Market data (issue 3) ---
# A tick more than this percent away from the previous tick of the same session is SUSPECT.
MARKET_DATA_JUMP_PERCENT = env.float("MARKET_DATA_JUMP_PERCENT", default=3.0)
# A realtime tick whose exchange time is older than this when ingested is STALE.
MARKET_DATA_STALE_SECONDS = env.int("MARKET_DATA_STALE_SECONDS", default=60)
# Ticks stamped further than this in the future are rejected (clock skew allowance).
MARKET_DATA_MAX_CLOCK_SKEW_SECONDS = env.int("MARKET_DATA_MAX_CLOCK_SKEW_SECONDS", default=5)
# Where `manage.py sync_instruments` downloads Angel One's instrument master from.
ANGEL_ONE_SCRIP_MASTER_URL = env.str(
    "ANGEL_ONE_SCRIP_MASTER_URL",
    default="https://margincalculator.angelbroking.com/OpenAPI_File/files/OpenAPIScripMaster.json",
)

# --- Feed pipeline (issue 4) ---
# The writer stores a batch when this many ticks wait, or FEED_FLUSH_MS after the first one.
FEED_FLUSH_TICKS = env.int("FEED_FLUSH_TICKS", default=1000)
FEED_FLUSH_MS = env.int("FEED_FLUSH_MS", default=100)
# Ticks held while the database is unavailable; beyond this the oldest are dropped and counted.
FEED_BUFFER_MAX_TICKS = env.int("FEED_BUFFER_MAX_TICKS", default=100_000)
# How often the feed writes its heartbeat, and when /health calls a silent feed stale.
FEED_HEARTBEAT_SECONDS = env.float("FEED_HEARTBEAT_SECONDS", default=5.0)
FEED_HEARTBEAT_STALE_SECONDS = env.int("FEED_HEARTBEAT_STALE_SECONDS", default=30)
# On SIGTERM, how long the feed keeps trying to store buffered ticks before giving up.
FEED_STOP_TIMEOUT_SECONDS = env.float("FEED_STOP_TIMEOUT_SECONDS", default=20.0)

# --- Live push /ws (issue 5) ---
# Subscriptions per connection, and symbols per subscribe/unsubscribe message.
WS_MAX_SYMBOLS = env.int("WS_MAX_SYMBOLS", default=50)
# Larger client messages get a `message_too_large` error.
WS_MAX_MESSAGE_BYTES = env.int("WS_MAX_MESSAGE_BYTES", default=4096)
# Client messages per second (token bucket), and how many may come at once; a client that
# keeps sending after WS_RATE_LIMIT_BURST refused messages in a row is closed with 4429.
WS_RATE_LIMIT_PER_SECOND = env.float("WS_RATE_LIMIT_PER_SECOND", default=10.0)
WS_RATE_LIMIT_BURST = env.int("WS_RATE_LIMIT_BURST", default=20)
# Unsent bytes above which a client counts as slow: its ticks are conflated until it catches up.
WS_SEND_BUFFER_BYTES = env.int("WS_SEND_BUFFER_BYTES", default=65536)
WS_SLOW_CLIENT_POLL_SECONDS = 0.02

# --- Angel One source (issue 4) ---
# SmartAPI's REST and WebSocket 2.0 base URLs; point them at a local peer for tests or staging.
ANGEL_ONE_API_URL = env.str("ANGEL_ONE_API_URL", default="https://apiconnect.angelone.in")
ANGEL_ONE_WS_URL = env.str(
    "ANGEL_ONE_WS_URL", default="wss://smartapisocket.angelone.in/smart-stream"
)
