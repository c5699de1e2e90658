"""The signals app. It follows the feed through two hooks (the live one prices ACTIVE signals
as their options tick; the after-store one closes those that reach a level) and tells the
feed what to stream (the options of ACTIVE signals) through a demand provider."""

from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "signals"
    verbose_name = "Trading signals"

    def ready(self) -> None:
        from marketdata.demand import demand_provider_register
        from marketdata.feed.hooks import after_store_register, live_register
        from signals.live_pnl import signal_prices_seen
        from signals.selectors import signal_options_demanded
        from signals.services import signal_ticks_stored

        live_register(signal_prices_seen)
        after_store_register(signal_ticks_stored)
        demand_provider_register(signal_options_demanded)
