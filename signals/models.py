"""The signal model and its choices; SQL stores also enforce its rules with check constraints."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from marketdata.market_calendar import INDICES, option_expiry_first_live

# The six streamed indices, from the one table that seeds them.
# (django-stubs types only the class syntax of TextChoices, not Enum's functional API.)
Underlying: type[models.TextChoices] = models.TextChoices(  # type: ignore[call-overload]
    "Underlying", [(symbol, (symbol, name)) for _token, symbol, name, _exchange, _type in INDICES]
)


# Angel One's instrument types of option contracts (index and stock options).
OPTION_INSTRUMENT_TYPES = ("OPTIDX", "OPTSTK")


def option_contracts_live(*, now: datetime | None = None) -> Q:
    """The master's option contracts on the six indices that have not expired: what a signal
    may be published on (the admin's autocomplete and form offer only these)."""
    return Q(
        instrument_type__in=OPTION_INSTRUMENT_TYPES,
        name__in=Underlying.values,
        expiry__gte=option_expiry_first_live(now or timezone.now()),
    )


class OptionType(models.TextChoices):
    PE = "PE", "Put"
    CE = "CE", "Call"


class SignalType(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"


class Status(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    COMPLETED = "COMPLETED", "Completed"
    CANCELLED = "CANCELLED", "Cancelled"


class Outcome(models.TextChoices):
    TARGET_HIT = "TARGET_HIT", "Target hit"
    STOP_LOSS_HIT = "STOP_LOSS_HIT", "Stop loss hit"
    MANUAL = "MANUAL", "Closed manually"
    EXPIRED = "EXPIRED", "Expired"


def _one_of(field: str, choices: type[models.TextChoices]) -> Q:
    return Q(**{f"{field}__in": choices.values})


# The same rules live in signals.services (MongoDB has no check constraints); these keep SQL
# stores consistent even against writes that bypass the services.
CONSTRAINTS: list[models.BaseConstraint] = [
    models.CheckConstraint(
        condition=Q(entry_price__gt=0, target_price__gt=0, stop_loss__gt=0),
        name="signals_prices_positive",
    ),
    models.CheckConstraint(
        condition=~Q(signal_type=SignalType.BUY)
        | Q(stop_loss__lt=F("entry_price"), entry_price__lt=F("target_price")),
        name="signals_buy_levels",
    ),
    models.CheckConstraint(
        condition=~Q(signal_type=SignalType.SELL)
        | Q(target_price__lt=F("entry_price"), entry_price__lt=F("stop_loss")),
        name="signals_sell_levels",
    ),
    models.CheckConstraint(condition=Q(quantity__gt=0), name="signals_quantity_positive"),
    # The master's copies come together: all of them (the signal was tied to a contract, which
    # the master may have retired since), or none (it matched no contract when migrated).
    models.CheckConstraint(
        condition=Q(token="", exchange="", lot_size__isnull=True)
        # (NULL > 0 is unknown, which a check constraint lets through: hence isnull.)
        | (~Q(token="") & ~Q(exchange="") & Q(lot_size__isnull=False, lot_size__gt=0)),
        name="signals_master_copies",
    ),
    models.CheckConstraint(
        condition=Q(confidence__gte=0, confidence__lte=100), name="signals_confidence_range"
    ),
    models.CheckConstraint(
        condition=_one_of("option_type", OptionType), name="signals_option_type"
    ),
    models.CheckConstraint(
        condition=_one_of("signal_type", SignalType), name="signals_signal_type"
    ),
    models.CheckConstraint(condition=_one_of("underlying", Underlying), name="signals_underlying"),
    models.CheckConstraint(
        condition=Q(status=Status.ACTIVE, outcome__isnull=True, closed_at__isnull=True)
        | Q(status=Status.CANCELLED, outcome__isnull=True, closed_at__isnull=False)
        | Q(status=Status.COMPLETED, outcome__in=Outcome.values, closed_at__isnull=False),
        name="signals_status_outcome",
    ),
]


class Signal(models.Model):
    """The seed's signals collection, plus what outcome tracking needs."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="signals",
        db_index=False,  # covered by the seed's user_id_1 index below
    )
    instrument = models.ForeignKey(
        "marketdata.Instrument",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="signals",
        limit_choices_to=option_contracts_live,
        help_text="The option contract in the instrument master; empty once the master retires it.",
    )
    symbol = models.CharField(max_length=64, help_text="The option's trading symbol.")
    token = models.CharField(
        max_length=32, blank=True, help_text="The contract's token, copied from the master."
    )
    exchange = models.CharField(
        max_length=16, blank=True, help_text="The contract's exchange (NFO, BFO), from the master."
    )
    lot_size = models.PositiveIntegerField(
        null=True, blank=True, help_text="Units in one lot, copied from the master."
    )
    underlying = models.CharField(
        max_length=16,
        choices=Underlying.choices,
        blank=True,
        help_text="Read from the symbol if blank.",
    )
    option_type = models.CharField(max_length=2, choices=OptionType.choices)
    signal_type = models.CharField(max_length=4, choices=SignalType.choices)
    entry_price = models.FloatField()
    target_price = models.FloatField()
    stop_loss = models.FloatField()
    quantity = models.PositiveIntegerField(
        help_text="In lots: the trade is quantity x lot_size units of the option."
    )
    confidence = models.PositiveSmallIntegerField(help_text="0-100")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True, default="")
    strike = models.FloatField(null=True, blank=True)
    expiry = models.DateField(null=True, blank=True, help_text="Expires at 15:30 IST that day.")
    outcome = models.CharField(max_length=13, choices=Outcome.choices, null=True, blank=True)
    exit_price = models.FloatField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "signals"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user"], name="user_id_1"),
            models.Index(fields=["symbol"], name="symbol_1"),
            models.Index(fields=["status"], name="status_1"),
            models.Index(fields=["-created_at"], name="created_at_-1"),
            models.Index(fields=["user", "status"], name="user_id_1_status_1"),
            models.Index(fields=["symbol", "-created_at"], name="symbol_1_created_at_-1"),
        ]
        constraints = CONSTRAINTS

    def __str__(self) -> str:
        return f"{self.signal_type} {self.symbol} @ {self.entry_price}"

    @property
    def instrument_matched(self) -> bool:
        """Whether the signal was tied to a master contract (false: migrated, matched nothing)."""
        return bool(self.token)

    @property
    def points(self) -> float | None:
        """Points gained per unit: positive is a win, for either direction."""
        if self.exit_price is None:
            return None
        move = self.exit_price - self.entry_price
        return move if self.signal_type == SignalType.BUY else -move
