"""The Celery app: Redis (`REDIS_URL`) as broker, tasks in each app's `tasks.py`.

Settings come from Django's settings with the `CELERY_` prefix; the beat schedule is
`CELERY_BEAT_SCHEDULE` (see docs/celery.md). Without Redis, tasks run eagerly in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_signals.settings")

app = Celery("trading_signals")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
