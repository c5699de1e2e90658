"""The signals app; it follows the feed through an after-store hook, and tells the feed what
to stream (the options of ACTIVE signals) through a demand provider."""

from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "signals"
    verbose_name = "Trading signals"

    def ready(self) -> None:
        from marketdata.demand import demand_provider_register
        from marketdata.feed.hooks import after_store_register
        from signals.selectors import signal_options_demanded
        from signals.services import signal_outcomes_check

        after_store_register(signal_outcomes_check)
        demand_provider_register(signal_options_demanded)
