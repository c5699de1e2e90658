"""The project's own app: its plumbing (API errors, logging, health) and management commands."""

from django.apps import AppConfig
from django.core.checks import register

from trading_signals.checks import CHECKS


class TradingSignalsConfig(AppConfig):
    name = "trading_signals"
    verbose_name = "Trading Signals"

    def ready(self) -> None:
        """Register the configuration checks (trading_signals/checks.py)."""
        for check in CHECKS:
            register(check)
