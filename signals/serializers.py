"""Input and output shapes of the signals API."""

from typing import Any

from rest_framework import serializers

from signals.models import Signal
from signals.pnl import NO_PRICE, NOT_ACTIVE
from signals.render import SIGNAL_FIELDS, signal_render
from signals.rules import NOTES_MAX_LENGTH
from signals.selectors import PERIODS
from trading_signals.api.serializers import FromToSerializer, IdField


class PnlAmountsSerializer(serializers.Serializer):
    points = serializers.FloatField(help_text="Per unit of the option; positive is a gain.")
    rupees = serializers.FloatField(help_text="points x lot_size (x quantity for the total)")
    percent = serializers.FloatField(help_text="points / entry_price x 100")


class PnlSerializer(serializers.Serializer):
    per_lot = PnlAmountsSerializer()
    total = PnlAmountsSerializer(help_text="The whole signal: per_lot x quantity (lots).")


class SignalOutputSerializer(serializers.ModelSerializer):
    """The one signal shape, for the REST API and the live `signal` events."""

    # The unrealised P&L needs the options' last prices: context={"quotes": signal_quotes(...)}.

    id = IdField()
    user_id = IdField()
    author_name = serializers.CharField(source="user.name", read_only=True)
    points = serializers.FloatField(read_only=True, allow_null=True)
    instrument_matched = serializers.BooleanField(
        read_only=True,
        help_text=(
            "False for a signal published before signals were tied to the instrument master "
            "whose symbol matched no contract: its token, exchange and lot_size are empty."
        ),
    )

    last_price = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="An ACTIVE signal's option: its last traded price (null: see the reason).",
    )
    last_price_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="The exchange time of last_price."
    )
    unrealised_pnl = PnlSerializer(
        read_only=True,
        allow_null=True,
        help_text="At last_price: BUY last - entry, SELL entry - last.",
    )
    unrealised_pnl_reason = serializers.ChoiceField(
        choices=[NOT_ACTIVE, NO_PRICE],
        read_only=True,
        allow_null=True,
        help_text="Why there is no unrealised P&L: not_active (closed: see points), "
        "no_price (no price of the option is known).",
    )

    class Meta:
        model = Signal
        fields = list(SIGNAL_FIELDS)
        read_only_fields = fields

    def to_representation(self, instance: Signal) -> dict[str, Any]:
        return signal_render(instance, quote=self.context.get("quotes", {}).get(instance.symbol))


class SignalInputSerializer(serializers.Serializer):
    """Types only: the rules themselves live in signals.rules, shared with the admin.

    The option is named by `symbol`, or by `underlying`, `expiry`, `strike` and `option_type`;
    it must be a live option contract of the instrument master, which supplies the rest.
    """

    symbol = serializers.CharField(
        max_length=64,
        required=False,
        help_text="The option's trading symbol in the instrument master, e.g. NIFTY30DEC2624000CE.",
    )
    underlying = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="With expiry, strike, option_type",
    )
    option_type = serializers.CharField(max_length=2, required=False, help_text="PE or CE")
    strike = serializers.FloatField(required=False, allow_null=True, help_text="In rupees")
    expiry = serializers.DateField(
        required=False, allow_null=True, help_text="The contract expires at 15:30 IST that day."
    )
    signal_type = serializers.CharField(max_length=4, help_text="BUY or SELL")
    entry_price = serializers.FloatField()
    target_price = serializers.FloatField()
    stop_loss = serializers.FloatField()
    quantity = serializers.IntegerField(
        help_text="In lots: the trade is quantity x the contract's lot_size units."
    )
    confidence = serializers.IntegerField(help_text="0-100")
    notes = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=NOTES_MAX_LENGTH
    )


class SignalUpdateInputSerializer(SignalInputSerializer):
    """Every field optional; `status` COMPLETED (with `exit_price`) or CANCELLED closes."""

    status = serializers.CharField(required=False, max_length=9)
    exit_price = serializers.FloatField(required=False)


class SignalCloseInputSerializer(serializers.Serializer):
    exit_price = serializers.FloatField()


class PerformanceQuerySerializer(FromToSerializer):
    period = serializers.ChoiceField(
        choices=PERIODS, default="day", help_text="The IST period of `by_period`'s rows."
    )

    def from_to_field(self) -> serializers.Field:
        return serializers.DateTimeField(required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("start") and attrs.get("end") and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"to": ["Must not be before `from`."]})
        return attrs


class PerformanceFiguresSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    wins = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True, help_text="wins / count, 0-1")
    average_points = serializers.FloatField()
    total_points = serializers.FloatField()
    average_rupees = serializers.FloatField(help_text="points x quantity (lots) x lot_size")
    total_rupees = serializers.FloatField()
    average_holding_seconds = serializers.FloatField(allow_null=True)


class AuthorPerformanceSerializer(PerformanceFiguresSerializer):
    user_id = IdField()
    author_name = serializers.CharField()


class UnderlyingPerformanceSerializer(PerformanceFiguresSerializer):
    underlying = serializers.CharField()


class SignalTypePerformanceSerializer(PerformanceFiguresSerializer):
    signal_type = serializers.CharField()


class PeriodPerformanceSerializer(PerformanceFiguresSerializer):
    period_start = serializers.DateField(help_text="The period's first IST day.")


class PerformanceSerializer(FromToSerializer):
    period = serializers.CharField()
    by_author = AuthorPerformanceSerializer(many=True)
    by_underlying = UnderlyingPerformanceSerializer(many=True)
    by_signal_type = SignalTypePerformanceSerializer(many=True)
    by_period = PeriodPerformanceSerializer(many=True)

    def from_to_field(self) -> serializers.Field:
        return serializers.DateTimeField(allow_null=True)
