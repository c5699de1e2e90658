"""Query parameters of the signal list: each bad value is a 400 naming its parameter."""

from typing import Any

from rest_framework import serializers

from signals.models import OptionType, SignalType, Status, Underlying

ORDERINGS = ("created_at", "updated_at", "closed_at", "symbol", "confidence", "entry_price")


class SignalFilterSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=Status.values, required=False)
    symbol = serializers.CharField(max_length=64, required=False)
    underlying = serializers.ChoiceField(choices=Underlying.values, required=False)
    option_type = serializers.ChoiceField(choices=OptionType.values, required=False)
    signal_type = serializers.ChoiceField(choices=SignalType.values, required=False)
    created_from = serializers.DateTimeField(required=False)
    created_to = serializers.DateTimeField(required=False)
    ordering = serializers.ChoiceField(
        choices=[*ORDERINGS, *(f"-{field}" for field in ORDERINGS)], required=False
    )

    def validate_symbol(self, value: str) -> str:
        return value.strip().upper()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("created_from"), attrs.get("created_to")
        if start and end and start > end:
            raise serializers.ValidationError({"created_to": ["Must not be before created_from."]})
        return attrs
