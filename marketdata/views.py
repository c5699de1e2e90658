"""The market data API: latest ticks, a symbol's ticks, filters, charts, statistics, instruments."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from marketdata import instruments, selectors
from marketdata.market_calendar import ist_day
from marketdata.models import Instrument, MarketData
from marketdata.ops import daily
from marketdata.options import chain as chains
from marketdata.serializers import (
    ChartQuerySerializer,
    ChartSerializer,
    FilterQuerySerializer,
    InstrumentQuerySerializer,
    InstrumentSerializer,
    LatestQuerySerializer,
    OptionChainQuerySerializer,
    OptionChainSerializer,
    OptionExpiriesSerializer,
    RangeQuerySerializer,
    StatisticsSerializer,
    SymbolPathSerializer,
    SymbolSerializer,
    TickSerializer,
)
from trading_signals.api.inputs import validated
from trading_signals.api.openapi import BAD_INPUT, SIGNED_IN, THROTTLED, error_response
from trading_signals.api.pagination import BoundedPageSizeMixin
from trading_signals.api.throttling import UserRateThrottle

UNKNOWN_SYMBOL = error_response("No such symbol.")
UNKNOWN_UNDERLYING = error_response(
    "Not one of the six indices, or the instrument master lists none of its options."
)
# What every market-data read may answer besides its own errors (MarketReadThrottle).
READ_ERRORS = {**SIGNED_IN, 429: THROTTLED}
SYMBOL = OpenApiParameter("symbol", str, OpenApiParameter.PATH, description="e.g. NIFTY")


class MarketReadThrottle(UserRateThrottle):
    """Every market-data read counts against one limit per user (MARKET_READ_THROTTLE_RATE)."""

    scope = "market-reads"
    rate_setting = "MARKET_READ_THROTTLE_RATE"


class CursorPage(BoundedPageSizeMixin, CursorPagination):
    """Cursor pages: stable under inserts and fast at any depth. `page_size` over the limit is a 400."""

    page_size = 100
    max_page_size = 1000
    ordering: str | list[str] | tuple[str, ...] = "-received_at"  # set per view (DRF's type)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: ["Invalid cursor."]}) from None


class MarketDataViewSet(viewsets.ViewSet):
    throttle_classes = [MarketReadThrottle]

    @extend_schema(
        tags=["market-data"],
        parameters=[LatestQuerySerializer],
        responses={200: TickSerializer(many=True), 400: BAD_INPUT, **READ_ERRORS},
        description="The latest tick of each streamed symbol, or of `symbols` (at most "
        f"{selectors.LATEST_MAX_SYMBOLS}; more is a 400 naming `symbols`).",
    )
    def latest(self, request: Request) -> Response:
        params = validated(LatestQuerySerializer, request.query_params)
        ticks = selectors.latest_ticks(symbols=params.get("symbols"))
        return Response(TickSerializer(ticks, many=True).data)

    @extend_schema(
        tags=["market-data"],
        responses={200: StatisticsSerializer, **READ_ERRORS},
        description="Per symbol: tick count, first/last tick, last price, the day's high/low "
        "and ticks by quality; totals and ticks stored today (IST).",
    )
    def statistics(self, request: Request) -> HttpResponse:
        body = selectors.market_statistics_cached(now=timezone.now(), render=_statistics_json)
        return HttpResponse(body, content_type="application/json")

    @extend_schema(
        tags=["market-data"],
        parameters=[SYMBOL, ChartQuerySerializer],
        responses={200: ChartSerializer, 400: BAD_INPUT, 404: UNKNOWN_SYMBOL, **READ_ERRORS},
        description="OHLC candles in IST-aligned buckets, computed by the database. Without "
        f"`from`, the last {selectors.DEFAULT_CANDLES} intervals; at most "
        f"{selectors.MAX_CANDLES} candles a request.",
    )
    def chart(self, request: Request, symbol: str) -> Response:
        symbol = _known_symbol(symbol)
        params = validated(ChartQuerySerializer, request.query_params)
        candles = daily.chart_candles(symbol=symbol, today=ist_day(timezone.now()), **params)
        return Response(ChartSerializer({"symbol": symbol, "candles": candles, **params}).data)

    @extend_schema(
        tags=["market-data"], responses={200: SymbolSerializer(many=True), **READ_ERRORS}
    )
    def symbols(self, request: Request) -> Response:
        return Response(SymbolSerializer(selectors.symbols_overview(), many=True).data)


def _statistics_json(report: dict[str, Any]) -> bytes:
    """The JSON body itself is what a reused report keeps: nothing left to build per request."""
    body: bytes = JSONRenderer().render(StatisticsSerializer(report).data)
    return body


def _known_symbol(symbol: str) -> str:
    symbol = validated(SymbolPathSerializer, {"symbol": symbol})["symbol"].upper()
    if not selectors.symbol_is_known(symbol=symbol):
        raise NotFound(f"Unknown symbol {symbol}.")
    return symbol


@extend_schema_view(
    list=extend_schema(
        tags=["market-data"],
        parameters=[SYMBOL, RangeQuerySerializer],
        responses={
            200: TickSerializer(many=True),
            400: BAD_INPUT,
            404: UNKNOWN_SYMBOL,
            **READ_ERRORS,
        },
        description="The symbol's ticks, newest first, in cursor pages.",
    )
)
class SymbolTicksViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[MarketData]):
    throttle_classes = [MarketReadThrottle]
    serializer_class = TickSerializer
    pagination_class = CursorPage

    def get_queryset(self) -> QuerySet[MarketData]:
        symbol = _known_symbol(self.kwargs["symbol"])
        params = validated(RangeQuerySerializer, self.request.query_params)
        return selectors.symbol_ticks(symbol=symbol, **params)


@extend_schema_view(
    list=extend_schema(
        tags=["market-data"],
        parameters=[FilterQuerySerializer],
        responses={200: TickSerializer(many=True), 400: BAD_INPUT, **READ_ERRORS},
        description="Ticks matching every given filter, in cursor pages.",
    )
)
class TickFilterViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[MarketData]):
    throttle_classes = [MarketReadThrottle]
    serializer_class = TickSerializer
    pagination_class = CursorPage

    def get_queryset(self) -> QuerySet[MarketData]:
        params = validated(FilterQuerySerializer, self.request.query_params)
        assert isinstance(self.paginator, CursorPage)  # pagination_class
        self.paginator.ordering = params.pop("ordering")
        return selectors.ticks_filter(**params)


@extend_schema_view(
    list=extend_schema(
        tags=["market-data"],
        parameters=[InstrumentQuerySerializer],
        responses={200: InstrumentSerializer(many=True), 400: BAD_INPUT, **READ_ERRORS},
        description="Search Angel One's instrument master (load it with "
        "`manage.py sync_instruments`): `search` matches a symbol prefix or part of the name.",
    )
)
class InstrumentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Instrument]):
    throttle_classes = [MarketReadThrottle]
    serializer_class = InstrumentSerializer
    pagination_class = CursorPage

    def get_queryset(self) -> QuerySet[Instrument]:
        assert isinstance(self.paginator, CursorPage)  # pagination_class
        self.paginator.ordering = ("symbol", "id")
        return instruments.instruments_search(
            **validated(InstrumentQuerySerializer, self.request.query_params)
        )


UNDERLYING = OpenApiParameter(
    "underlying", str, OpenApiParameter.PATH, description=", ".join(chains.UNDERLYINGS)
)


def _known_underlying(underlying: str) -> str:
    if underlying.upper() not in chains.UNDERLYINGS:
        raise NotFound(
            f"No option chain for {underlying!r}: one of {', '.join(chains.UNDERLYINGS)}."
        )
    return underlying.upper()


class OptionChainViewSet(viewsets.ViewSet):
    throttle_classes = [MarketReadThrottle]

    @extend_schema(
        tags=["market-data"],
        parameters=[UNDERLYING, OptionChainQuerySerializer],
        responses={
            200: OptionChainSerializer,
            400: BAD_INPUT,
            404: UNKNOWN_UNDERLYING,
            **READ_ERRORS,
        },
        description="The index's option chain for one expiry: the spot, the ATM strike, and "
        "for each strike the call's and put's last price, implied volatility and Greeks "
        "(Black-76 on the forward implied by put-call parity), each null with its reason. "
        "The contracts are streamed for LIVE_DEMAND_GRACE_SECONDS after the request "
        "(`live` says whether the feed accepted them).",
    )
    def chain(self, request: Request, underlying: str) -> Response:
        underlying = _known_underlying(underlying)
        params = validated(OptionChainQuerySerializer, request.query_params)
        try:
            found = chains.option_chain(underlying=underlying, now=timezone.now(), **params)
        except chains.NoOptionsListedError as missing:
            raise NotFound(str(missing)) from None
        live = chains.option_chain_stream(symbols=found.symbols())
        return Response(OptionChainSerializer((found, live)).data)

    @extend_schema(
        tags=["market-data"],
        parameters=[UNDERLYING],
        responses={200: OptionExpiriesSerializer, 404: UNKNOWN_UNDERLYING, **READ_ERRORS},
        description="The expiries of the index's options in the instrument master that have "
        "not expired (15:30 IST of the expiry day), nearest first.",
    )
    def expiries(self, request: Request, underlying: str) -> Response:
        underlying = _known_underlying(underlying)
        expiries = chains.option_expiries(underlying=underlying, now=timezone.now())
        body = {"underlying": underlying, "expiries": expiries}
        return Response(OptionExpiriesSerializer(body).data)
