"""Django admin for signals: the option picked from the instrument master (autocomplete), the
rules of signals.rules shown as form errors, bulk cancel and close; the market beside it
(signals/admin_market.py): live price, P&L and chart on the forms, last price, P&L and the
option's feed in the list."""

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from signals import admin_market, rules, selectors, services
from signals.contracts import CONTRACT_FIELDS
from signals.models import Signal, Status
from trading_signals.errors import ApplicationError

BADGE_COLOURS: dict[str, str] = {
    Status.ACTIVE: "#1d72b8",
    Status.COMPLETED: "#2e7d32",
    Status.CANCELLED: "#757575",
}


class SignalForm(forms.ModelForm):
    """Runs the services' rules, so the admin shows exactly the API's errors, per field."""

    class Meta:
        model = Signal
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        option = self.fields.get("instrument")  # on the add form only: the option is then fixed
        if option is not None:
            option.required = True
            option.help_text = (
                "Type to search the master's live option contracts on the six indices."
            )

    def _field_of(self, field: str) -> str | None:
        """The form field to show a rule's reason on: the option's fields come from the
        instrument the form picked."""
        if field in self.fields:
            return field
        if field in CONTRACT_FIELDS and "instrument" in self.fields:
            return "instrument"
        return None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns (its stub allows None)
        signal = self.instance if self.instance.pk else None
        try:
            rules.signal_clean(signal=signal, data=cleaned)
        except ApplicationError as error:
            for field, reasons in error.errors.items():
                shown_on = self._field_of(field)
                if shown_on in self.errors:
                    continue  # the form already said why this field is unusable
                for reason in reasons:
                    self.add_error(shown_on, reason)
        return cleaned

    def _get_validation_exclusions(self) -> set[str]:
        # clean() ran every rule through the services, which also fill in what the model's
        # own checks would miss (the option's values, copied from the master): don't repeat them.
        return {field.name for field in self.instance._meta.fields}


# What the instrument master fills in: shown, never typed.
MASTER_FIELDS = ["instrument", *CONTRACT_FIELDS, "token", "exchange", "lot_size"]
TRADE_FIELDSETS = [
    (
        admin_market.BESIDE_FIELDSET,
        {"fields": ["signal_type", "entry_price", "target_price", "stop_loss", "quantity"]},
    ),
    (None, {"fields": ["confidence", "notes"]}),
]
ADD_FIELDSETS = [("Option", {"fields": ["instrument"]}), *TRADE_FIELDSETS]
CHANGE_FIELDSETS = [
    ("Option", {"fields": MASTER_FIELDS}),
    *TRADE_FIELDSETS,
    ("Status", {"fields": ["status", "exit_price", "outcome", "closed_at"]}),
    ("Record", {"fields": ["user", "created_at", "updated_at"]}),
]


class InstrumentMatchedFilter(admin.SimpleListFilter):
    """Signals migrated from before the master that matched no contract (no token, no lot size)."""

    title = "instrument master"
    parameter_name = "instrument_matched"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Matched a contract"), ("no", "Matched nothing (migrated)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Signal]) -> QuerySet[Signal]:
        if self.value() == "yes":
            return queryset.exclude(token="")
        if self.value() == "no":
            return queryset.filter(token="")
        return queryset


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    form = SignalForm
    list_display = [
        "symbol",
        "signal_type",
        "option_type",
        "underlying",
        "entry_price",
        "target_price",
        "stop_loss",
        "option_last_price",
        "option_pnl",
        "quantity",
        "lot_size",
        "status_badge",
        "option_feed",
        "outcome",
        "exit_price",
        "user",
        "created_at",
    ]
    list_filter = [
        "status", "signal_type", "option_type", "underlying", "outcome", InstrumentMatchedFilter,
        admin_market.FeedStateFilter,
    ]  # fmt: skip
    search_fields = ["symbol", "=token", "notes", "user__email", "user__name"]
    autocomplete_fields = ["instrument"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    actions = ["cancel_selected", "close_selected_at_latest_price"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Signal]:
        stale_after = timedelta(minutes=settings.SIGNAL_FEED_STALE_MINUTES)
        return selectors.signals_with_market(
            super().get_queryset(request), now=timezone.now(), stale_after=stale_after
        )

    def get_urls(self) -> list[URLPattern]:
        market = path(
            "market/",
            self.admin_site.admin_view(self.market_view),
            name="signals_signal_market",
        )
        return [market, *super().get_urls()]

    def market_view(self, request: HttpRequest) -> HttpResponse:
        return admin_market.market_view(self, request)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Signal | None = None,
    ) -> HttpResponse:
        form = context["adminform"].form
        data = form.data if form.is_bound else form.initial
        try:
            trade = admin_market.trade_shown(
                signal=obj, instrument_pk=data.get("instrument"), data=data
            )
        except admin_market.BadInputError:
            trade = None  # the form says what is wrong with the option
        context.update(admin_market.panel_context(trade=trade))
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Last price (IST)", ordering="last_price")
    def option_last_price(self, obj: Signal) -> str:
        return admin_market.last_price_cell(obj)

    @admin.display(description="P&L (Rs)", ordering="unrealised_rupees")
    def option_pnl(self, obj: Signal) -> str:
        return admin_market.pnl_cell(obj)

    @admin.display(description="Option feed", ordering="feed_state")
    def option_feed(self, obj: Signal) -> str:
        return admin_market.feed_cell(obj)

    def get_fieldsets(self, request: HttpRequest, obj: Signal | None = None) -> list:
        return CHANGE_FIELDSETS if obj else ADD_FIELDSETS

    def get_readonly_fields(self, request: HttpRequest, obj: Signal | None = None) -> list[str]:
        record = ["user", "outcome", "closed_at", "created_at", "updated_at"]
        # A published signal's option never changes: cancel it and publish another.
        return [*MASTER_FIELDS, *record] if obj else record

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Signal) -> str:
        return format_html(
            '<span style="background:{};color:#fff;padding:2px 8px;border-radius:8px">{}</span>',
            BADGE_COLOURS[obj.status],
            obj.get_status_display(),
        )

    def save_model(self, request: HttpRequest, obj: Signal, form: SignalForm, change: bool) -> None:
        # Writes go through the services (author, conditional updates, live events).
        if not change:
            assert isinstance(request.user, User)  # the admin is for signed-in staff only
            obj.pk = services.signal_create(author=request.user, data=form.cleaned_data).pk
            return
        try:
            services.signal_update(signal=Signal.objects.get(pk=obj.pk), data=form.cleaned_data)
        except ApplicationError as error:
            # The feed closed it between the form check and this save: nothing was written.
            self.message_user(request, f"Not saved: {error.message}", messages.ERROR)

    def _apply(
        self, request: HttpRequest, signals: Iterable[Signal], write: Callable[[Signal], object]
    ) -> tuple[int, list[str]]:
        done, refused = 0, []
        for signal in signals:
            try:
                write(signal)
            except ApplicationError as error:
                refused.append(f"{signal}: {error.message}")
            else:
                done += 1
        return done, refused

    def _report(self, request: HttpRequest, verb: str, done: int, refused: list[str]) -> None:
        if done:
            self.message_user(request, f"{verb} {done} signal(s).", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, f"Not {verb.lower()}: {reason}", messages.WARNING)

    # Actions change signals: like the change form, they need signals.change_signal.
    @admin.action(description="Cancel selected signals", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Signal]) -> None:
        done, refused = self._apply(request, queryset, lambda s: services.signal_cancel(signal=s))
        self._report(request, "Cancelled", done, refused)

    @admin.action(
        description="Close selected signals at their latest stored price", permissions=["change"]
    )
    def close_selected_at_latest_price(
        self, request: HttpRequest, queryset: QuerySet[Signal]
    ) -> None:
        signals = list(queryset)
        prices = selectors.latest_prices(symbols={signal.symbol for signal in signals})
        no_price = [s for s in signals if s.symbol not in prices]
        priced = [s for s in signals if s.symbol in prices]

        def close(signal: Signal) -> None:
            services.signal_close(signal=signal, exit_price=prices[signal.symbol])

        done, refused = self._apply(request, priced, close)
        refused += [
            f"{s}: no stored price for {s.symbol}; close it from its page." for s in no_price
        ]
        self._report(request, "Closed", done, refused)
