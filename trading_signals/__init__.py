"""The project package: settings, URLs, the ASGI and Celery apps, and shared plumbing."""

from trading_signals.celery import app as celery_app

__all__ = ["celery_app"]
