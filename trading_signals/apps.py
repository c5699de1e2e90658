"""The project's own app: its plumbing (API errors, logging, health) and management commands."""

from django.apps import AppConfig


class TradingSignalsConfig(AppConfig):
    name = "trading_signals"
    verbose_name = "Trading Signals"
