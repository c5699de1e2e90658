"""Input and output shapes of the signals API."""

from typing import Any

from rest_framework import serializers

from signals.models import Signal
from signals.render import SIGNAL_FIELDS, signal_render
from signals.rules import NOTES_MAX_LENGTH
from trading_signals.api.serializers import FromToSerializer, IdField


class SignalOutputSerializer(serializers.ModelSerializer):
    """The one signal shape, for the REST API and the live `signal` events."""

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

    class Meta:
        model = Signal
        fields = list(SIGNAL_FIELDS)
        read_only_fields = fields

    def to_representation(self, instance: Signal) -> dict[str, Any]:
        return signal_render(instance)


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
    average_holding_seconds = serializers.FloatField(allow_null=True)


class AuthorPerformanceSerializer(PerformanceFiguresSerializer):
    user_id = IdField()
    author_name = serializers.CharField()


class UnderlyingPerformanceSerializer(PerformanceFiguresSerializer):
    underlying = serializers.CharField()


class PerformanceSerializer(FromToSerializer):
    by_author = AuthorPerformanceSerializer(many=True)
    by_underlying = UnderlyingPerformanceSerializer(many=True)

    def from_to_field(self) -> serializers.Field:
        return serializers.DateTimeField(allow_null=True)
