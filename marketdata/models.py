"""The tick store (`MarketData`, index names from the seed), instruments, daily candles and market-session overrides."""

from django.db import models
from django.db.models import F, Q


class DataQuality(models.TextChoices):
    GOOD = "GOOD", "Good"
    STALE = "STALE", "Stale"
    SUSPECT = "SUSPECT", "Suspect"


class MarketData(models.Model):
    """The seed's market data collection: one row per (symbol, received_at).

    `received_at` is when the market event happened (exchange time when the source gives
    one), in UTC at millisecond precision, so a tick re-delivered after a reconnect lands on
    the same unique key on every backend.
    """

    tk = models.CharField(max_length=32)
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16, blank=True)
    ltpc = models.FloatField(help_text="Last traded price.")
    ch = models.FloatField(null=True, blank=True, help_text="Change from the previous close.")
    chp = models.FloatField(null=True, blank=True, help_text="Change in percent.")
    high = models.FloatField(null=True, blank=True)
    low = models.FloatField(null=True, blank=True)
    open = models.FloatField(null=True, blank=True)
    close = models.FloatField(null=True, blank=True, help_text="Previous session's close.")
    volume = models.BigIntegerField(null=True, blank=True)
    exchange_type = models.SmallIntegerField(null=True, blank=True)
    token = models.CharField(max_length=32)
    instrument_type = models.CharField(max_length=16, blank=True)
    expiry = models.CharField(max_length=16, blank=True)
    strike_price = models.FloatField(null=True, blank=True)
    depth = models.JSONField(null=True, blank=True)
    received_at = models.DateTimeField()
    source = models.CharField(max_length=32)
    processed = models.BooleanField(default=False)
    raw_data = models.JSONField(default=dict, blank=True)
    data_quality = models.CharField(max_length=16, choices=DataQuality.choices)
    is_realtime = models.BooleanField(default=True)

    class Meta:
        db_table = "market_data"
        verbose_name = "tick"
        verbose_name_plural = "market data"
        constraints = [
            models.UniqueConstraint(
                fields=["symbol", "received_at"], name="symbol_receivedAt_unique"
            ),
            models.CheckConstraint(condition=Q(ltpc__gt=0), name="ltpc_positive"),
            models.CheckConstraint(
                condition=Q(high__isnull=True) | Q(low__isnull=True) | Q(high__gte=F("low")),
                name="high_gte_low",
            ),
        ]
        indexes = [
            models.Index(fields=["tk"], name="tk_1"),
            models.Index(fields=["-received_at"], name="received_at_-1"),
            models.Index(fields=["source"], name="source_1"),
            models.Index(fields=["processed"], name="processed_1"),
            models.Index(fields=["tk", "-received_at"], name="tk_1_received_at_-1"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.ltpc} @ {self.received_at.isoformat()}"


class Instrument(models.Model):
    """A tradable contract from Angel One's scrip master; `subscribed` ones are streamed."""

    token = models.CharField(max_length=32)
    symbol = models.CharField(max_length=64)
    name = models.CharField(max_length=128, blank=True)
    exchange = models.CharField(max_length=16, help_text="Angel One exch_seg: NSE, BSE, NFO...")
    exchange_type = models.SmallIntegerField(help_text="Angel One WebSocket exchange type.")
    instrument_type = models.CharField(max_length=16, blank=True)
    expiry = models.DateField(null=True, blank=True)
    strike = models.FloatField(null=True, blank=True, help_text="In rupees.")
    lot_size = models.PositiveIntegerField(default=1)
    tick_size = models.FloatField(default=0.05, help_text="In rupees.")
    subscribed = models.BooleanField(
        default=False, help_text="The feed streams it and the API lists it in /symbols."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "instruments"
        constraints = [
            models.UniqueConstraint(fields=["exchange", "token"], name="exchange_1_token_1"),
        ]
        indexes = [
            models.Index(fields=["token"], name="instrument_token_1"),
            models.Index(fields=["symbol"], name="instrument_symbol_1"),
            models.Index(fields=["subscribed"], name="subscribed_1"),
            # An index's option chain and its expiries (marketdata.options.chain).
            models.Index(
                fields=["name", "instrument_type", "expiry"], name="name_1_type_1_expiry_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} ({self.exchange} {self.token})"


class MarketSession(models.Model):
    """A staff override of the exchange calendar for one day.

    A closure shuts a day the calendar package thinks is open; a special session opens a
    day (even a weekend or a holiday, e.g. Muhurat trading) with its own hours.
    """

    class Kind(models.TextChoices):
        CLOSED = "CLOSED", "Closed all day"
        SPECIAL = "SPECIAL", "Special session"

    class Exchange(models.TextChoices):
        NSE = "NSE", "NSE"
        BSE = "BSE", "BSE"

    date = models.DateField(help_text="The trading day, in IST.")
    exchange = models.CharField(max_length=8, choices=Exchange.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    opens_at = models.TimeField(null=True, blank=True, help_text="IST; special sessions only.")
    closes_at = models.TimeField(null=True, blank=True, help_text="IST; special sessions only.")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "market_sessions"
        ordering = ["-date", "exchange"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "date"], name="exchange_1_date_1"),
            models.CheckConstraint(
                condition=Q(kind="CLOSED", opens_at__isnull=True, closes_at__isnull=True)
                | Q(
                    kind="SPECIAL",
                    opens_at__isnull=False,
                    closes_at__isnull=False,
                    opens_at__lt=F("closes_at"),
                ),
                name="session_hours_match_kind",
                violation_error_message=(
                    "A closure has no hours; a special session needs opens_at before closes_at."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exchange} {self.date} {self.get_kind_display()}"


class DailyCandle(models.Model):
    """One IST trading day of one symbol, built from its ticks after the close (issue 7).

    `quality` is the day's data-quality summary: ticks by grade, realtime/backfill counts,
    and the session minutes that have no tick at all.
    """

    symbol = models.CharField(max_length=64)
    date = models.DateField(help_text="The trading day, in IST.")
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.BigIntegerField(null=True, blank=True)
    tick_count = models.PositiveIntegerField()
    first_tick_at = models.DateTimeField()
    last_tick_at = models.DateTimeField()
    quality = models.JSONField(default=dict, blank=True)
    built_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "daily_candles"
        ordering = ["symbol", "date"]
        constraints = [
            models.UniqueConstraint(fields=["symbol", "date"], name="symbol_1_date_1"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.date}"
