"""Output shapes of the market data API; query-parameter serializers validate inputs."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketdata import selectors
from marketdata.live.render import tick_render
from marketdata.market_calendar import IST
from marketdata.models import DataQuality
from marketdata.options import chain
from marketdata.options.render import chain_render
from trading_signals.api.serializers import FiniteFloatField, FromToSerializer


class TickSerializer(serializers.Serializer):
    """The tick shape's schema; `marketdata.live.render.tick_render` writes it (REST and live)."""

    symbol = serializers.CharField()
    token = serializers.CharField()
    exchange = serializers.CharField()
    exchange_type = serializers.IntegerField(allow_null=True)
    ltpc = serializers.FloatField(help_text="Last traded price, in rupees.")
    ch = serializers.FloatField(allow_null=True, help_text="Change from the previous close.")
    chp = serializers.FloatField(allow_null=True, help_text="Change in percent.")
    open = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True)
    close = serializers.FloatField(allow_null=True, help_text="Previous session's close.")
    volume = serializers.IntegerField(allow_null=True)
    received_at = serializers.DateTimeField(help_text="Exchange time of the tick, UTC.")
    # DRF's metaclass moves declared fields off the class, so this does not shadow
    # Field.source (as the stubs read it).
    source = serializers.CharField()  # type: ignore[assignment]
    data_quality = serializers.CharField(help_text="GOOD, STALE or SUSPECT.")
    is_realtime = serializers.BooleanField()
    depth = serializers.JSONField(allow_null=True)

    def to_representation(self, instance: object) -> dict[str, Any]:
        return tick_render(instance)


class _ListedInstrumentSerializer(serializers.Serializer):
    """What names an instrument wherever one is listed."""

    symbol = serializers.CharField()
    name = serializers.CharField()
    token = serializers.CharField()
    exchange = serializers.CharField()
    exchange_type = serializers.IntegerField()


class InstrumentSerializer(_ListedInstrumentSerializer):
    instrument_type = serializers.CharField()
    expiry = serializers.DateField(allow_null=True)
    strike = serializers.FloatField(allow_null=True, help_text="In rupees.")
    lot_size = serializers.IntegerField()
    tick_size = serializers.FloatField(help_text="In rupees.")


class SymbolSerializer(_ListedInstrumentSerializer):
    last_price = serializers.FloatField(allow_null=True)
    last_update = serializers.DateTimeField(allow_null=True)


class CandleSerializer(serializers.Serializer):
    time = serializers.DateTimeField(default_timezone=IST, help_text="Start of the bucket, IST.")
    open = serializers.FloatField()
    high = serializers.FloatField()
    low = serializers.FloatField()
    close = serializers.FloatField()
    volume = serializers.IntegerField(
        allow_null=True, help_text="Growth of the day's cumulative volume within the bucket."
    )
    ticks = serializers.IntegerField()


class ChartSerializer(FromToSerializer):
    symbol = serializers.CharField()
    interval = serializers.CharField()
    candles = CandleSerializer(many=True)


class SymbolStatisticsSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    count = serializers.IntegerField()
    first_tick_at = serializers.DateTimeField()
    last_tick_at = serializers.DateTimeField()
    last_price = serializers.FloatField()
    day = serializers.DateField(help_text="IST trading day of the last tick.")
    day_high = serializers.FloatField()
    day_low = serializers.FloatField()
    quality = serializers.DictField(child=serializers.IntegerField())


class StatisticsTotalsSerializer(serializers.Serializer):
    ticks = serializers.IntegerField()
    symbols = serializers.IntegerField()
    quality = serializers.DictField(child=serializers.IntegerField())
    today = serializers.IntegerField(help_text="Ticks stamped since IST midnight.")


class StatisticsSerializer(serializers.Serializer):
    symbols = SymbolStatisticsSerializer(many=True)
    totals = StatisticsTotalsSerializer()


# --- query parameters: each error names its parameter ---


# Python's datetimes stop at years 1 and 9999: a moment near either cannot be moved to UTC, nor
# a chart's window counted back from it. Market data lies well inside these years.
YEARS = range(1900, 3000)


@extend_schema_field({"type": "string", "example": "2025-01-06T09:15:00+05:30"})
class ISTDateTimeField(serializers.Field):
    """An ISO 8601 date or datetime; without an offset it is read as IST (the market clock)."""

    default_error_messages = {
        "invalid": "Use an ISO 8601 date or datetime, e.g. 2025-01-06 or 2025-01-06T09:15:00+05:30.",
        "out_of_range": f"Use a year from {YEARS.start} to {YEARS.stop - 1}.",
    }

    def to_internal_value(self, data: object) -> datetime:
        text = str(data).strip()
        try:
            moment = parse_datetime(text)
            if moment is None:
                day = parse_date(text)
                moment = datetime.combine(day, time(0)) if day else None
        except ValueError:
            moment = None
        if moment is None:
            self.fail("invalid")
        if moment.year not in YEARS:
            self.fail("out_of_range")
        return moment if moment.utcoffset() is not None else moment.replace(tzinfo=IST)


class CommaListField(serializers.CharField):
    # Read as a CharField (its checks and errors), then split: the value is a list, not the
    # str a CharField's type promises.
    def to_internal_value(self, data: Any) -> list[str]:  # type: ignore[override]
        items = [item.strip().upper() for item in super().to_internal_value(data).split(",")]
        return sorted({item for item in items if item})

    def run_validators(self, value: list[str]) -> None:
        # A CharField's validators (no NUL characters, say) hold for each symbol.
        for item in value:
            super().run_validators(item)


class RangeQuerySerializer(FromToSerializer):
    """`from` (inclusive) and `to` (exclusive); `from` must come before `to`."""

    def from_to_field(self) -> serializers.Field:
        return ISTDateTimeField(required=False)

    def validate(self, attrs: dict) -> dict:
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is not None and start >= end:
            raise serializers.ValidationError({"to": ["Must be after from."]})
        return attrs


class SymbolPathSerializer(serializers.Serializer):
    """The symbol in a URL's path: text a database can compare (no NUL characters)."""

    symbol = serializers.CharField(trim_whitespace=False)


class LatestQuerySerializer(serializers.Serializer):
    symbols = CommaListField(
        required=False,
        help_text="Comma-separated, e.g. NIFTY,SENSEX; at most "
        f"{selectors.LATEST_MAX_SYMBOLS} symbols.",
    )

    def validate_symbols(self, symbols: list[str]) -> list[str]:
        if len(symbols) > selectors.LATEST_MAX_SYMBOLS:
            raise serializers.ValidationError(
                f"At most {selectors.LATEST_MAX_SYMBOLS} symbols a request ({len(symbols)} given)."
            )
        return _known_symbols(symbols)


def _known_symbols(symbols: list[str]) -> list[str]:
    unknown = selectors.unknown_symbols(symbols=symbols)
    if unknown:
        raise serializers.ValidationError(f"Unknown symbol(s): {', '.join(unknown)}.")
    return symbols


class FilterQuerySerializer(RangeQuerySerializer):
    # Only orderings an index serves: ordering a million ticks by price read every one of them.
    ORDERINGS = ["-received_at", "received_at"]

    symbols = CommaListField(required=False, help_text="Comma-separated, e.g. NIFTY,SENSEX.")
    exchange = serializers.CharField(required=False)
    min_price = FiniteFloatField(required=False, min_value=0)
    max_price = FiniteFloatField(required=False, min_value=0)
    data_quality = serializers.ChoiceField(choices=DataQuality.values, required=False)
    is_realtime = serializers.BooleanField(required=False, default=None, allow_null=True)
    source = serializers.CharField(required=False)  # type: ignore[assignment]  # see TickSerializer
    ordering = serializers.ChoiceField(choices=ORDERINGS, default="-received_at")

    def validate_symbols(self, symbols: list[str]) -> list[str]:
        return _known_symbols(symbols)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"max_price": ["Must not be below min_price."]})
        return attrs


class ChartQuerySerializer(RangeQuerySerializer):
    interval = serializers.ChoiceField(choices=list(selectors.INTERVALS), default="1m")

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        step = timedelta(seconds=selectors.INTERVALS[attrs["interval"]])
        attrs.setdefault("end", datetime.now(tz=UTC))
        attrs.setdefault("start", attrs["end"] - step * selectors.DEFAULT_CANDLES)
        if attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"from": ["Must be before to."]})
        if (attrs["end"] - attrs["start"]) / step > selectors.MAX_CANDLES:
            limit = f"{selectors.MAX_CANDLES} {attrs['interval']} candles"
            raise serializers.ValidationError({"from": [f"The range covers more than {limit}."]})
        return attrs


class InstrumentQuerySerializer(serializers.Serializer):
    search = serializers.CharField(required=False, default="", max_length=64)
    exchange = serializers.CharField(required=False, max_length=16)
    instrument_type = serializers.CharField(required=False, max_length=16)
    expiry = serializers.DateField(required=False)


# --- the option chain (docs/options.md) ---


class OptionChainQuerySerializer(serializers.Serializer):
    expiry = serializers.DateField(
        required=False, help_text="YYYY-MM-DD; default: the nearest expiry not yet expired."
    )
    strikes = serializers.IntegerField(
        required=False,
        default=chain.DEFAULT_STRIKES,
        min_value=1,
        max_value=chain.MAX_STRIKES,
        help_text="Strikes each side of the ATM strike.",
    )


def _reasons() -> serializers.DictField:
    return serializers.DictField(
        child=serializers.CharField(),
        help_text="Each null field of this object and why it is null (docs/options.md).",
    )


class ChainOptionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    token = serializers.CharField()
    last_price = serializers.FloatField(allow_null=True)
    change = serializers.FloatField(allow_null=True, help_text="From the previous close.")
    open_interest = serializers.IntegerField(allow_null=True, help_text="SNAP_QUOTE mode only.")
    volume = serializers.IntegerField(allow_null=True, help_text="QUOTE and SNAP_QUOTE modes.")
    last_at = serializers.DateTimeField(allow_null=True, help_text="Time of the last tick, UTC.")
    iv = serializers.FloatField(allow_null=True, help_text="Implied volatility, 0.15 = 15%.")
    delta = serializers.FloatField(allow_null=True, help_text="With respect to the forward.")
    gamma = serializers.FloatField(allow_null=True, help_text="With respect to the forward.")
    theta = serializers.FloatField(allow_null=True, help_text="Per calendar day.")
    vega = serializers.FloatField(allow_null=True, help_text="Per 1 point of volatility.")
    reasons = _reasons()


class ChainStrikeSerializer(serializers.Serializer):
    strike = serializers.FloatField()
    CE = ChainOptionSerializer(allow_null=True)
    PE = ChainOptionSerializer(allow_null=True)
    reasons = _reasons()


class ChainSpotSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    price = serializers.FloatField(allow_null=True, help_text="The index's last tick.")
    at = serializers.DateTimeField(allow_null=True)
    reasons = _reasons()


class ChainModelSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="black76: Black's model on the forward.")
    rate = serializers.FloatField(help_text="OPTION_RISK_FREE_RATE, continuously compounded.")
    forward = serializers.FloatField(allow_null=True)
    forward_source = serializers.CharField(
        allow_null=True, help_text="put_call_parity or spot_carry."
    )
    forward_strikes = serializers.ListField(child=serializers.FloatField())
    time_to_expiry = serializers.FloatField(help_text="Years, from as_of to expires_at.")
    day_count = serializers.CharField()
    as_of = serializers.DateTimeField(help_text="The valuation moment: the spot's tick.")
    expires_at = serializers.DateTimeField()
    stale_after_seconds = serializers.FloatField()
    min_seconds_to_expiry = serializers.FloatField()
    reasons = _reasons()


class ChainLiveSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["requested", "subscription_limit", "unavailable"])
    symbols = serializers.IntegerField()
    grace_seconds = serializers.FloatField()
    detail = serializers.CharField()


class OptionChainSerializer(serializers.Serializer):
    """The chain's schema; `marketdata.options.render.chain_render` writes it."""

    underlying = serializers.CharField()
    expiry = serializers.DateField()
    spot = ChainSpotSerializer()
    atm_strike = serializers.FloatField()
    model = ChainModelSerializer()
    live = ChainLiveSerializer()
    strikes = ChainStrikeSerializer(many=True)

    def to_representation(
        self, instance: tuple[chain.OptionChain, chain.LiveRequest]
    ) -> dict[str, Any]:
        return chain_render(*instance)


class OptionExpiriesSerializer(serializers.Serializer):
    underlying = serializers.CharField()
    expiries = serializers.ListField(child=serializers.DateField())
