"""The signals app; it follows the feed through an after-store hook."""

from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "signals"
    verbose_name = "Trading signals"

    def ready(self) -> None:
        from marketdata.feed.hooks import after_store_register
        from signals.services import signal_outcomes_check

        after_store_register(signal_outcomes_check)
