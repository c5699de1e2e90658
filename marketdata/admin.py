"""Django admin for instruments, ticks and market-session overrides."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from marketdata.models import Instrument, MarketData, MarketSession


class SymbolFilter(admin.SimpleListFilter):
    """Choices from the streamed instruments: a DISTINCT over millions of ticks is too slow."""

    title = "symbol"
    parameter_name = "symbol"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        symbols = Instrument.objects.filter(subscribed=True).order_by("symbol")
        return [(symbol, symbol) for symbol in symbols.values_list("symbol", flat=True)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(symbol=self.value()) if self.value() else queryset


@admin.register(MarketData)
class MarketDataAdmin(admin.ModelAdmin):
    """Ticks are the market's record: staff read them, nobody edits them here."""

    list_display = [
        "symbol", "ltpc", "ch", "chp", "received_at", "data_quality", "source", "is_realtime",
    ]  # fmt: skip
    list_filter = [SymbolFilter, "source", "data_quality", "is_realtime"]
    search_fields = ["=symbol", "=token"]
    date_hierarchy = "received_at"
    ordering = ["-received_at"]
    show_full_result_count = False  # counting millions of rows on every page is slow
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: MarketData | None = None) -> bool:
        return False


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = [
        "symbol", "name", "token", "exchange", "exchange_type", "instrument_type", "expiry",
        "strike", "lot_size", "subscribed",
    ]  # fmt: skip
    list_filter = ["subscribed", "exchange", "instrument_type"]
    search_fields = ["symbol", "=token", "name"]
    ordering = ["symbol"]
    readonly_fields = ["updated_at"]


@admin.register(MarketSession)
class MarketSessionAdmin(admin.ModelAdmin):
    """Overrides of the holiday calendar: extra closures and special sessions (Muhurat...)."""

    list_display = ["date", "exchange", "kind", "opens_at", "closes_at", "note"]
    list_filter = ["exchange", "kind"]
    date_hierarchy = "date"
    search_fields = ["note"]
