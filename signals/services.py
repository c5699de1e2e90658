"""Signal writes: the rules, creation, edits, closing, outcome tracking and expiry.

The API and the admin both call these, so a rule holds the same everywhere, on every store
(SQL stores also carry check constraints; MongoDB has only these checks).

The feed streams the option of every ACTIVE signal: `signal_options_demanded` is registered
as a demand provider (apps.py), and every write announces the change to the feed once it is
committed, so an option starts streaming when its signal is published and stops when the
signal closes, within a second.
"""

import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeGuard

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from marketdata.demand import demand_changed
from marketdata.live import publish
from marketdata.market_calendar import IST, REGULAR_CLOSE
from marketdata.models import Instrument
from marketdata.ticks import Tick
from signals import selectors
from signals.models import OptionType, Outcome, Signal, SignalType, Status, Underlying
from signals.render import signal_render
from trading_signals.errors import ApplicationError, field_error

logger = logging.getLogger(__name__)

NOTES_MAX_LENGTH = 2000
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9&_-]{0,63}$")

REQUIRED_FIELDS = (
    "symbol", "option_type", "signal_type", "entry_price", "target_price", "stop_loss",
    "quantity", "confidence",
)  # fmt: skip
EDITABLE_FIELDS = (*REQUIRED_FIELDS, "underlying", "strike", "expiry", "notes")
PRICE_FIELDS = ("entry_price", "target_price", "stop_loss")

REQUIRED = "This field is required."
CLOSED_READ_ONLY = "A closed signal cannot be edited except its notes."
CLOSED_MEANWHILE = "The signal was closed meanwhile; only its notes can be edited now."

Errors = dict[str, list[str]]


# --- The rules ---------------------------------------------------------------------------


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _underlying_of(symbol: str) -> str:
    """The longest index code the option symbol starts with (BANKNIFTY before NIFTY)."""
    codes = sorted((code for code in Underlying.values if symbol.startswith(code)), key=len)
    return codes[-1] if codes else ""


def _normalize(values: dict[str, Any]) -> None:
    if isinstance(values.get("symbol"), str):
        values["symbol"] = values["symbol"].strip().upper()
    for field in ("underlying", "option_type", "signal_type"):
        if isinstance(values.get(field), str):
            values[field] = values[field].strip().upper()
    if not values.get("underlying") and isinstance(values.get("symbol"), str):
        values["underlying"] = _underlying_of(values["symbol"])
    if values.get("notes") is None:
        values["notes"] = ""


def _choice_errors(values: Mapping[str, Any], errors: Errors) -> None:
    for field, choices in (
        ("option_type", OptionType),
        ("signal_type", SignalType),
        ("underlying", Underlying),
    ):
        if values.get(field) not in choices.values:
            errors[field].append(f"Must be one of {', '.join(choices.values)}.")


def _symbol_errors(values: Mapping[str, Any], errors: Errors) -> None:
    symbol = values.get("symbol")
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.match(symbol):
        errors["symbol"].append("Use 1-64 letters, digits, '&', '_' or '-'.")
    elif values.get("underlying") in Underlying.values and not symbol.startswith(
        values["underlying"]
    ):
        errors["symbol"].append(f"An option on {values['underlying']} starts with that code.")


def _price_errors(values: Mapping[str, Any], errors: Errors) -> None:
    for field in PRICE_FIELDS:
        if not _is_number(values.get(field)) or values[field] <= 0:
            errors[field].append("Must be a positive number.")
    if errors.keys() & {*PRICE_FIELDS, "signal_type"}:
        return
    entry, target, stop = (values[field] for field in PRICE_FIELDS)
    if values["signal_type"] == SignalType.BUY:
        if not stop < entry:
            errors["stop_loss"].append("For a BUY, stop_loss must be below entry_price.")
        if not entry < target:
            errors["target_price"].append("For a BUY, target_price must be above entry_price.")
    else:
        if not target < entry:
            errors["target_price"].append("For a SELL, target_price must be below entry_price.")
        if not entry < stop:
            errors["stop_loss"].append("For a SELL, stop_loss must be above entry_price.")


def _count_errors(values: Mapping[str, Any], errors: Errors) -> None:
    if not _is_integer(values.get("quantity")) or values["quantity"] <= 0:
        errors["quantity"].append("Must be a positive integer.")
    if not _is_integer(values.get("confidence")) or not 0 <= values["confidence"] <= 100:
        errors["confidence"].append("Must be an integer from 0 to 100.")


def _optional_errors(values: Mapping[str, Any], errors: Errors, *, check_expiry: bool) -> None:
    strike = values.get("strike")
    if strike is not None and (not _is_number(strike) or strike <= 0):
        errors["strike"].append("Must be a positive number.")
    expiry = values.get("expiry")
    if expiry is not None and not isinstance(expiry, date):
        errors["expiry"].append("Must be a date (YYYY-MM-DD).")
    elif check_expiry and expiry is not None and expiry < timezone.now().astimezone(IST).date():
        errors["expiry"].append("Must not be in the past.")
    if not isinstance(values.get("notes"), str) or len(values["notes"]) > NOTES_MAX_LENGTH:
        errors["notes"].append(f"Must be text of at most {NOTES_MAX_LENGTH} characters.")


def _field_errors(values: Mapping[str, Any], *, check_expiry: bool) -> Errors:
    errors: Errors = defaultdict(list)
    _choice_errors(values, errors)
    _symbol_errors(values, errors)
    _price_errors(values, errors)
    _count_errors(values, errors)
    _optional_errors(values, errors, check_expiry=check_expiry)
    return errors


def _transition_errors(signal: Signal, data: Mapping[str, Any]) -> Errors:
    errors: Errors = defaultdict(list)
    status = data.get("status", signal.status)
    if status not in Status.values:
        errors["status"].append(f"Must be one of {', '.join(Status.values)}.")
    elif status != signal.status and signal.status != Status.ACTIVE:
        errors["status"].append(f"A {signal.status} signal cannot become {status}.")
    elif status == Status.ACTIVE and signal.status != Status.ACTIVE:
        errors["status"].append(f"A {signal.status} signal cannot become ACTIVE again.")
    exit_price = data.get("exit_price")
    closing = status == Status.COMPLETED and signal.status == Status.ACTIVE
    if closing and (not _is_number(exit_price) or exit_price <= 0):
        errors["exit_price"].append("Closing needs a positive exit price.")
    elif not closing and exit_price is not None and exit_price != signal.exit_price:
        errors["exit_price"].append("Only set when closing the signal (status COMPLETED).")
    return errors


def _raise_if(errors: Errors) -> None:
    if errors:
        fields = ", ".join(sorted(errors))
        raise ApplicationError(f"Invalid signal: check {fields}.", errors=dict(errors))


def signal_clean(*, signal: Signal | None, data: Mapping[str, Any]) -> dict[str, Any]:
    """Check `data` as a new signal (`signal` None) or as changes to `signal`.

    Returns the normalized changes (only what differs for an edit); raises ApplicationError
    naming every field that breaks a rule.
    """
    if signal is None:
        missing = {field: [REQUIRED] for field in REQUIRED_FIELDS if data.get(field) is None}
        _raise_if(missing)
        values = {field: data.get(field) for field in EDITABLE_FIELDS}
        _normalize(values)
        _raise_if(_field_errors(values, check_expiry=True))
        return values

    errors = _transition_errors(signal, data)
    current = {field: getattr(signal, field) for field in EDITABLE_FIELDS}
    values = {**current, **{k: v for k, v in data.items() if k in EDITABLE_FIELDS}}
    _normalize(values)
    changed = {field: value for field, value in values.items() if value != current[field]}
    if signal.status != Status.ACTIVE:
        for field in changed.keys() - {"notes"}:
            errors[field].append(CLOSED_READ_ONLY)
    else:
        field_errors = _field_errors(values, check_expiry="expiry" in changed)
        for field, reasons in field_errors.items():
            errors[field].extend(reasons)
    _raise_if(errors)
    status = data.get("status", signal.status)
    if status != signal.status:
        changed["status"] = status
        if status == Status.COMPLETED:
            changed["exit_price"] = data["exit_price"]
    return changed


# --- Writes ------------------------------------------------------------------------------


def _event_publish(*, signal: Signal, action: str) -> None:
    """Publish after the write is committed; a push failure must not undo the write. The
    feed is told too: the signal's option starts or stops streaming (`signal_options_demanded`)."""
    event = {
        "type": "signal",
        "action": action,
        "signal": signal_render(signal),
    }

    def after_commit() -> None:
        try:
            publish.signal_event_publish(event=event)
        finally:
            demand_changed()  # never raises

    transaction.on_commit(after_commit, robust=True)


def signal_options_demanded() -> list[str]:
    """The options of ACTIVE signals that the instrument master knows: the feed streams them
    (a demand provider, registered in apps.py)."""
    symbols = set(Signal.objects.filter(status=Status.ACTIVE).values_list("symbol", flat=True))
    if not symbols:
        return []
    known = Instrument.objects.filter(symbol__in=symbols).values_list("symbol", flat=True)
    return sorted(set(known))


def _apply_if_active(*, pk: Any, values: Mapping[str, Any]) -> bool:
    """The one way an ACTIVE signal changes: a conditional UPDATE whose row count decides.

    Two feed workers (or a worker and a staff member) racing on one signal cannot both
    close it: only the first UPDATE still finds status ACTIVE.
    """
    rows = Signal.objects.filter(pk=pk, status=Status.ACTIVE).update(
        **values, updated_at=timezone.now()
    )
    return rows == 1


_ACTIONS: dict[str | None, str] = {Status.COMPLETED: "closed", Status.CANCELLED: "cancelled"}


def _action_for(changes: Mapping[str, Any]) -> str:
    return _ACTIONS.get(changes.get("status"), "updated")


def signal_create(*, author: User, data: Mapping[str, Any]) -> Signal:
    values = signal_clean(signal=None, data=data)
    signal = Signal.objects.create(user=author, status=Status.ACTIVE, **values)
    _event_publish(signal=signal, action="created")
    return signal


def signal_update(*, signal: Signal, data: Mapping[str, Any]) -> Signal:
    """Edit fields, and/or move status (COMPLETED needs `exit_price`; CANCELLED)."""
    changes = signal_clean(signal=signal, data=data)
    if not changes:
        return signal
    if changes.get("status") == Status.COMPLETED:
        changes.update(outcome=Outcome.MANUAL, closed_at=timezone.now())
    elif changes.get("status") == Status.CANCELLED:
        changes["closed_at"] = timezone.now()

    if signal.status == Status.ACTIVE:
        if not _apply_if_active(pk=signal.pk, values=changes):
            raise ApplicationError(CLOSED_MEANWHILE, errors={"status": [CLOSED_MEANWHILE]})
    else:
        Signal.objects.filter(pk=signal.pk).update(**changes, updated_at=timezone.now())
    signal = selectors.signal_get(pk=signal.pk)
    _event_publish(signal=signal, action=_action_for(changes))
    return signal


def _require_active(signal: Signal, verb: str) -> None:
    if signal.status != Status.ACTIVE:
        raise field_error(
            "status", f"Only an ACTIVE signal can be {verb}; this one is {signal.status}."
        )


def signal_cancel(*, signal: Signal) -> Signal:
    _require_active(signal, "cancelled")
    return signal_update(signal=signal, data={"status": Status.CANCELLED})


def signal_close(*, signal: Signal, exit_price: float) -> Signal:
    _require_active(signal, "closed")
    return signal_update(signal=signal, data={"status": Status.COMPLETED, "exit_price": exit_price})


def _close(*, signal: Signal, outcome: str, exit_price: float | None, closed_at: datetime) -> bool:
    values = {
        "status": Status.COMPLETED,
        "outcome": outcome,
        "exit_price": exit_price,
        "closed_at": closed_at,
    }
    if not _apply_if_active(pk=signal.pk, values=values):
        return False
    _event_publish(signal=selectors.signal_get(pk=signal.pk), action="closed")
    return True


# --- Outcome tracking --------------------------------------------------------------------


def _option_ticks_by_symbol(ticks: Iterable[Tick]) -> dict[str, list[Tick]]:
    """Ticks of option contracts, by symbol, oldest first.

    An index's own tick is the underlying's level, not the option's premium, so it never
    decides an option signal.
    """
    by_symbol: dict[str, list[Tick]] = defaultdict(list)
    underlyings = set(Underlying.values)  # the enum builds this list anew on each access
    for tick in ticks:
        if tick.symbol not in underlyings:
            by_symbol[tick.symbol].append(tick)
    for series in by_symbol.values():
        series.sort(key=lambda tick: tick.received_at)
    return by_symbol


def _outcome_of(signal: Signal, price: float) -> str | None:
    if signal.signal_type == SignalType.BUY:
        reached_target, reached_stop = price >= signal.target_price, price <= signal.stop_loss
    else:
        reached_target, reached_stop = price <= signal.target_price, price >= signal.stop_loss
    if reached_target:
        return Outcome.TARGET_HIT
    return Outcome.STOP_LOSS_HIT if reached_stop else None


def _first_hit(signal: Signal, series: Sequence[Tick]) -> tuple[str, Tick] | None:
    for tick in series:
        if tick.received_at < signal.created_at:
            continue  # a price from before the signal was published says nothing about it
        outcome = _outcome_of(signal, tick.ltpc)
        if outcome:
            return outcome, tick
    return None


def signal_outcomes_check(*, ticks: Sequence[Tick]) -> int:
    """Close ACTIVE signals whose target or stop loss these ticks reach; return how many.

    A signal closes at the first reaching tick's own price and time (a gap closes at the
    gapped price, not at the level). Safe to call from several feed workers at once.
    """
    by_symbol = _option_ticks_by_symbol(ticks)
    if not by_symbol:
        return 0
    closed = 0
    for signal in selectors.signals_active_for(symbols=by_symbol.keys()):
        hit = _first_hit(signal, by_symbol[signal.symbol])
        if hit is None:
            continue
        outcome, tick = hit
        closed += _close(
            signal=signal, outcome=outcome, exit_price=tick.ltpc, closed_at=tick.received_at
        )
    return closed


def _expiry_cutoff(now: datetime) -> dict[str, date]:
    """Options expire at the close (15:30 IST) of their expiry day."""
    local = now.astimezone(IST)
    lookup = "expiry__lte" if local.time() >= REGULAR_CLOSE else "expiry__lt"
    return {lookup: local.date()}


def signals_expire(*, now: datetime) -> int:
    """Close ACTIVE signals past their expiry as EXPIRED, at the option's last stored price
    (none when the feed never carried that option); return how many."""
    expired = selectors.signals_active_expired(cutoff=_expiry_cutoff(now))
    prices = selectors.latest_prices(symbols={signal.symbol for signal in expired})
    closed = sum(
        _close(
            signal=signal,
            outcome=Outcome.EXPIRED,
            exit_price=prices.get(signal.symbol),
            closed_at=now,
        )
        for signal in expired
    )
    if closed:
        logger.info("Closed %d expired signal(s)", closed)
    return closed
