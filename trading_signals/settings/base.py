"""The Django project itself: name and environment, apps, middleware, templates, i18n, static.

`ENVIRONMENT` is read in any letter case, trimmed; a name it does not know stops the start-up,
since a typo would otherwise run a deployment without production's hardening.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured

from trading_signals.settings.environment import BASE_DIR, env
from trading_signals.settings.storage import AUTO_KEYED_APPS, USES_MONGODB

# Each accepted spelling and the environment it names.
ENVIRONMENTS = {
    "development": "development",
    "dev": "development",
    "test": "test",
    "production": "production",
    "prod": "production",
}

APP_NAME = env.str("APP_NAME", default="Trading Signals API")
APP_VERSION = "1.0.0"
_environment = env.str("ENVIRONMENT", default="").strip().lower() or "development"
if _environment not in ENVIRONMENTS:
    raise ImproperlyConfigured(
        "ENVIRONMENT must be development (or dev), test or production (or prod), not "
        f"{env.str('ENVIRONMENT')!r}. A staging deployment is production with its own hosts "
        "and keys."
    )
ENVIRONMENT = ENVIRONMENTS[_environment]
IS_PRODUCTION = ENVIRONMENT == "production"

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
    # Before anything reads a body; after CORS, so that a browser can read the 413.
    "trading_signals.middleware.BodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "trading_signals.middleware.AdminTimeZoneMiddleware",
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
# The admin's clock (trading_signals.middleware.AdminTimeZoneMiddleware); the rest stays UTC.
ADMIN_TIME_ZONE = env.str("ADMIN_TIME_ZONE", default="Asia/Kolkata")
try:
    ZoneInfo(ADMIN_TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError) as error:
    raise ImproperlyConfigured(
        f"ADMIN_TIME_ZONE={ADMIN_TIME_ZONE!r} is not an IANA time zone name (e.g. Asia/Kolkata)."
    ) from error

# `manage.py collectstatic` creates STATIC_ROOT; WHITENOISE_USE_FINDERS is in security.py.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
