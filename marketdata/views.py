from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from accounts.serializers import ErrorSerializer
from marketdata import selectors
from marketdata.models import Instrument, MarketData
from marketdata.serializers import (
    ChartQuerySerializer,
    ChartSerializer,
    FilterQuerySerializer,
    InstrumentQuerySerializer,
    InstrumentSerializer,
    LatestQuerySerializer,
    RangeQuerySerializer,
    StatisticsSerializer,
    SymbolSerializer,
    TickSerializer,
)

HEALTH_SHAPE = inline_serializer(
    "Health",
    {
        "healthy": serializers.BooleanField(),
        "checks": serializers.DictField(child=serializers.CharField()),
    },
)


class PublicView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class HealthView(PublicView):
    @extend_schema(
        tags=["service"],
        responses={
            200: HEALTH_SHAPE,
            503: HEALTH_SHAPE,
        },
    )
    def get(self, request: Request) -> Response:
        report = selectors.health_report()
        code = status.HTTP_200_OK if report["healthy"] else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report, status=code)


class RootView(PublicView):
    @extend_schema(
        tags=["service"],
        responses={
            200: inline_serializer(
                "ApiInfo",
                {
                    name: serializers.CharField()
                    for name in (
                        "name",
                        "version",
                        "environment",
                        "docs",
                        "redoc",
                        "openapi",
                        "health",
                    )
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": settings.APP_NAME,
                "version": settings.APP_VERSION,
                "environment": settings.ENVIRONMENT,
                "docs": request.build_absolute_uri("/docs"),
                "redoc": request.build_absolute_uri("/redoc"),
                "openapi": request.build_absolute_uri("/openapi.json"),
                "health": request.build_absolute_uri("/health"),
            }
        )


# --- market data API ---

BAD_PARAMETER = OpenApiResponse(ErrorSerializer, description="`errors` names each bad parameter.")
UNKNOWN_SYMBOL = OpenApiResponse(ErrorSerializer, description="No such symbol.")
SYMBOL = OpenApiParameter("symbol", str, OpenApiParameter.PATH, description="e.g. NIFTY")


def query_params(serializer_class: type[Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class CursorPage(CursorPagination):
    """Cursor pages: stable under inserts and fast at any depth. `page_size` over the limit is a 400."""

    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"
    ordering = "-received_at"

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            reason = f"Must be a whole number from 1 to {self.max_page_size}."
            raise ValidationError({self.page_size_query_param: [reason]})
        return int(raw)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: ["Invalid cursor."]}) from None


class MarketDataViewSet(viewsets.ViewSet):
    @extend_schema(
        tags=["market-data"],
        parameters=[LatestQuerySerializer],
        responses={200: TickSerializer(many=True), 400: BAD_PARAMETER},
        description="The latest tick of each streamed symbol, or of `symbols`.",
    )
    def latest(self, request: Request) -> Response:
        params = query_params(LatestQuerySerializer, request)
        ticks = selectors.latest_ticks(symbols=params.get("symbols"))
        return Response(TickSerializer(ticks, many=True).data)

    @extend_schema(
        tags=["market-data"],
        responses={200: StatisticsSerializer},
        description="Per symbol: tick count, first/last tick, last price, the day's high/low "
        "and ticks by quality; totals and ticks stored today (IST).",
    )
    def statistics(self, request: Request) -> Response:
        report = selectors.market_statistics(now=timezone.now())
        return Response(StatisticsSerializer(report).data)

    @extend_schema(
        tags=["market-data"],
        parameters=[SYMBOL, ChartQuerySerializer],
        responses={200: ChartSerializer, 400: BAD_PARAMETER, 404: UNKNOWN_SYMBOL},
        description="OHLC candles in IST-aligned buckets, computed by the database. Without "
        f"`from`, the last {selectors.DEFAULT_CANDLES} intervals; at most "
        f"{selectors.MAX_CANDLES} candles a request.",
    )
    def chart(self, request: Request, symbol: str) -> Response:
        symbol = _known_symbol(symbol)
        params = query_params(ChartQuerySerializer, request)
        candles = selectors.candles_for(symbol=symbol, **params)
        return Response(ChartSerializer({"symbol": symbol, "candles": candles, **params}).data)

    @extend_schema(tags=["market-data"], responses={200: SymbolSerializer(many=True)})
    def symbols(self, request: Request) -> Response:
        return Response(SymbolSerializer(selectors.symbols_overview(), many=True).data)


def _known_symbol(symbol: str) -> str:
    symbol = symbol.upper()
    if not selectors.symbol_is_known(symbol=symbol):
        raise NotFound(f"Unknown symbol {symbol}.")
    return symbol


class SymbolTicksViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = TickSerializer
    pagination_class = CursorPage

    def get_queryset(self) -> QuerySet[MarketData]:
        symbol = _known_symbol(self.kwargs["symbol"])
        params = query_params(RangeQuerySerializer, self.request)
        return selectors.ticks_filter(symbols=[symbol], **params)

    @extend_schema(
        tags=["market-data"],
        parameters=[SYMBOL, RangeQuerySerializer],
        responses={200: TickSerializer(many=True), 400: BAD_PARAMETER, 404: UNKNOWN_SYMBOL},
        description="The symbol's ticks, newest first, in cursor pages.",
    )
    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().list(request, *args, **kwargs)


class TickFilterViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = TickSerializer
    pagination_class = CursorPage

    def get_queryset(self) -> QuerySet[MarketData]:
        params = query_params(FilterQuerySerializer, self.request)
        self.paginator.ordering = params.pop("ordering")
        return selectors.ticks_filter(**params)

    @extend_schema(
        tags=["market-data"],
        parameters=[FilterQuerySerializer],
        responses={200: TickSerializer(many=True), 400: BAD_PARAMETER},
        description="Ticks matching every given filter, in cursor pages.",
    )
    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().list(request, *args, **kwargs)


class InstrumentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = InstrumentSerializer
    pagination_class = CursorPage

    def get_queryset(self) -> QuerySet[Instrument]:
        self.paginator.ordering = ("symbol", "id")
        return selectors.instruments_search(**query_params(InstrumentQuerySerializer, self.request))

    @extend_schema(
        tags=["market-data"],
        parameters=[InstrumentQuerySerializer],
        responses={200: InstrumentSerializer(many=True), 400: BAD_PARAMETER},
        description="Search Angel One's instrument master (load it with "
        "`manage.py sync_instruments`): `search` matches a symbol prefix or part of the name.",
    )
    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().list(request, *args, **kwargs)
