"""The market in the signal admin: the panel beside the trade fields (the option's live price,
the IV/Greeks slot, the P&L at that price and the intraday chart with the levels), the
admin-only view the page refreshes it from, and the list's last-price, P&L and feed columns.

The panel is rendered on the server (templates/signals/admin/market_panel.html, the chart as
SVG by signals.chart); static/signals/admin_market.js asks `market/` for it again every few
seconds, and at once when staff pick another option or type other levels.
"""

import math
from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html

from marketdata.market_calendar import IST
from marketdata.models import Instrument
from signals import selectors
from signals.chart import chart_svg
from signals.market import LEVELS, Trade, market_panel, trade_of
from signals.models import Signal, SignalType, option_contracts_live

PANEL_TEMPLATE = "signals/admin/market_panel.html"
REFRESH_SECONDS = 3
BESIDE_FIELDSET = "Trade"  # the panel sits beside the entry, target and stop-loss fields


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def typed_trade(data: Mapping[str, Any]) -> dict[str, Any]:
    """The trade as a form holds it, half-typed values left out (the form's own checks report
    them): positive levels, a whole positive quantity, BUY or SELL."""
    typed: dict[str, Any] = {name: _number(data.get(name)) for name in LEVELS}
    quantity = _number(data.get("quantity"))
    typed["quantity"] = int(quantity) if quantity and quantity.is_integer() else None
    signal_type = data.get("signal_type")
    typed["signal_type"] = signal_type if signal_type in SignalType.values else None
    return typed


class BadInputError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _one(queryset: Any, field: str, pk: Any) -> Any:
    if pk in (None, ""):
        return None
    try:
        found = queryset.filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        raise BadInputError(field, "Not a valid id.") from None
    if found is None:
        raise BadInputError(field, "No such record.")
    return found


def trade_shown(
    *, signal: Signal | None, instrument_pk: Any, data: Mapping[str, Any]
) -> Trade | None:
    """The trade a page shows: the signal's (the change page), else the option the add form
    picked (`instrument_pk`); with what is typed in `data`."""
    instrument = None
    if signal is None:
        live_options = Instrument.objects.filter(option_contracts_live())
        instrument = _one(live_options, "instrument", instrument_pk)
    return trade_of(signal=signal, instrument=instrument, typed=typed_trade(data))


def _signed(value: float, decimals: int) -> str:
    return f"{value:+,.{decimals}f}"


def panel_context(*, trade: Trade | None) -> dict[str, Any]:
    """The template's context: the market as `market.market_panel` reads it, the chart drawn,
    the P&L written with its sign."""
    market = market_panel(trade=trade, now=timezone.now())
    context = {
        "market": market,
        "refresh_seconds": REFRESH_SECONDS,
        "market_beside": BESIDE_FIELDSET,
    }
    if trade is None:
        return context
    chart = market["chart"]
    market["chart_svg"] = chart_svg(
        day=chart.day,
        option=chart.option,
        underlying=chart.underlying,
        levels=market["levels"],
        option_label=trade.symbol,
        underlying_label=trade.underlying,
    )
    if market["pnl"]:
        market["pnl_text"] = {
            part: {
                "points": _signed(amounts["points"], 2),
                "rupees": _signed(amounts["rupees"], 2),
                "percent": _signed(amounts["percent"], 2),
            }
            for part, amounts in market["pnl"].items()
        }
    return context


def market_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET `market/?signal=` (a change page) or `?instrument=` (the add form's pick), with the
    typed `signal_type`, `entry_price`, `target_price`, `stop_loss`, `quantity`: the panel."""
    if not (model_admin.has_view_permission(request) or model_admin.has_add_permission(request)):
        return JsonResponse({"detail": "You may not view signals.", "errors": {}}, status=403)
    try:
        signal = _one(Signal.objects.all(), "signal", request.GET.get("signal"))
        if signal is not None and not model_admin.has_view_permission(request, signal):
            return JsonResponse({"detail": "You may not view signals.", "errors": {}}, status=403)
        trade = trade_shown(
            signal=signal, instrument_pk=request.GET.get("instrument"), data=request.GET
        )
    except BadInputError as bad:
        return JsonResponse({"detail": bad.reason, "errors": {bad.field: [bad.reason]}}, status=400)
    html = render_to_string(PANEL_TEMPLATE, panel_context(trade=trade), request=request)
    return HttpResponse(html)


# --- The list's columns and filter ---------------------------------------------------------


def last_price_cell(signal: Any) -> str:
    if signal.last_price is None:
        return "-"
    return format_html(
        '{} <span class="signal-muted">{}</span>',
        f"{signal.last_price:,.2f}",
        signal.last_tick_at.astimezone(IST).strftime("%H:%M:%S"),
    )


def pnl_cell(signal: Any) -> str:
    if signal.unrealised_rupees is None:
        return "-"
    colour = "#2e7d32" if signal.unrealised_rupees >= 0 else "#c62828"
    return format_html(
        '<span style="color:{}">{}</span> <span class="signal-muted">{} pts</span>',
        colour,
        _signed(signal.unrealised_rupees, 2),
        _signed(signal.unrealised_points, 2),
    )


def feed_cell(signal: Any) -> str:
    if signal.feed_state not in selectors.FEED_STATES:
        return ""  # closed
    name, why = selectors.FEED_STATES[signal.feed_state]
    return format_html('<span title="{}">{}</span>', why, name)


class FeedStateFilter(admin.SimpleListFilter):
    """ACTIVE signals by whether their option streams, and why not."""

    title = "option feed"
    parameter_name = "feed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            (state, name if state == "streaming" else f"Not streaming: {name.lower()}")
            for state, (name, _why) in selectors.FEED_STATES.items()
        ]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() in selectors.FEED_STATES:
            return queryset.filter(feed_state=self.value())
        return queryset
