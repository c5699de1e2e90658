"""Routes under /api/v1/market-data/."""

from django.urls import path

from marketdata import views

urlpatterns = [
    path("latest", views.MarketDataViewSet.as_view({"get": "latest"}), name="market-data-latest"),
    path(
        "symbol/<str:symbol>",
        views.SymbolTicksViewSet.as_view({"get": "list"}),
        name="market-data-symbol",
    ),
    path("filter", views.TickFilterViewSet.as_view({"get": "list"}), name="market-data-filter"),
    path(
        "statistics",
        views.MarketDataViewSet.as_view({"get": "statistics"}),
        name="market-data-statistics",
    ),
    path(
        "chart/<str:symbol>",
        views.MarketDataViewSet.as_view({"get": "chart"}),
        name="market-data-chart",
    ),
    path(
        "symbols", views.MarketDataViewSet.as_view({"get": "symbols"}), name="market-data-symbols"
    ),
    path(
        "instruments",
        views.InstrumentViewSet.as_view({"get": "list"}),
        name="market-data-instruments",
    ),
    path(
        "option-chain/<str:underlying>",
        views.OptionChainViewSet.as_view({"get": "chain"}),
        name="market-data-option-chain",
    ),
    path(
        "option-chain/<str:underlying>/expiries",
        views.OptionChainViewSet.as_view({"get": "expiries"}),
        name="market-data-option-expiries",
    ),
]
