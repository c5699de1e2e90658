"""Storage: MongoDB when MONGODB_URL is set, else DATABASE_URL, else embedded SQLite; the cache.

REDIS_URL, when set, also carries the channel layer (live.py) and the Celery broker (celery.py).
"""

from trading_signals.settings.environment import BASE_DIR, env

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

# Apps whose models get auto primary keys (base.py installs them): on MongoDB they must be
# ObjectIdAutoField.
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

# --- Redis: the shared cache (throttle counters) when REDIS_URL is set ---
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
