"""Signal writes: creation, edits, closing, outcome tracking and expiry.

The API and the admin both call these, so the rules (signals.rules, `signal_clean`) hold the
same everywhere.

The feed streams the option of every ACTIVE signal: `selectors.signal_options_demanded` is
registered as a demand provider (apps.py), and every write announces the change to the feed
once it is committed, so an option starts streaming when its signal is published and stops
when the signal closes, within a second. The feed's after-store hook, `signal_ticks_stored`,
closes the signals its stored ticks reach a level of and hands the others to the live P&L
(signals/live_pnl.py), which prices them on `/ws` as their options tick.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from marketdata.demand import demand_changed
from marketdata.live import publish
from marketdata.market_calendar import option_expiry_first_live
from marketdata.ticks import Tick
from signals import live_pnl, selectors
from signals.models import Outcome, Signal, SignalType, Status, Underlying
from signals.render import signal_render
from signals.rules import CLOSED_MEANWHILE, signal_clean
from trading_signals.errors import ApplicationError, field_error

logger = logging.getLogger(__name__)


# --- Writes ------------------------------------------------------------------------------


def _event_publish(*, signal: Signal, action: str) -> None:
    """Publish after the write is committed; a push failure must not undo the write. The
    feed is told too: the signal's option starts or stops streaming (`signal_options_demanded`)."""
    quotes = selectors.signal_quotes(signals=[signal])
    event = {
        "type": "signal",
        "action": action,
        "signal": signal_render(signal, quote=quotes.get(signal.symbol)),
    }

    def after_commit() -> None:
        try:
            publish.signal_event_publish(event=event)
        finally:
            demand_changed()  # never raises

    transaction.on_commit(after_commit, robust=True)


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


def _outcomes_close(signals: Iterable[Signal], by_symbol: Mapping[str, Sequence[Tick]]) -> set[Any]:
    """Close each of `signals` at the first of its option's ticks that reaches a level; the
    keys of those this call closed."""
    closed = set()
    for signal in signals:
        hit = _first_hit(signal, by_symbol[signal.symbol])
        if hit is None:
            continue
        outcome, tick = hit
        if _close(signal=signal, outcome=outcome, exit_price=tick.ltpc, closed_at=tick.received_at):
            closed.add(signal.pk)
    return closed


def signal_outcomes_check(*, ticks: Sequence[Tick]) -> int:
    """Close ACTIVE signals whose target or stop loss these ticks reach; return how many.

    A signal closes at the first reaching tick's own price and time (a gap closes at the
    gapped price, not at the level). Safe to call from several feed workers at once.
    """
    by_symbol = _option_ticks_by_symbol(ticks)
    if not by_symbol:
        return 0
    return len(_outcomes_close(selectors.signals_active_for(symbols=by_symbol), by_symbol))


def signal_ticks_stored(*, ticks: Sequence[Tick]) -> None:
    """The feed's after-store hook (apps.py): `signal_outcomes_check`, then the signals still
    ACTIVE go to the live P&L (`live_pnl`), which prices them as their options tick. One read
    of the ACTIVE signals serves both; a batch without option ticks reads nothing."""
    by_symbol = _option_ticks_by_symbol(ticks)
    if not by_symbol:
        return
    active = selectors.signals_active()
    closed = _outcomes_close([s for s in active if s.symbol in by_symbol], by_symbol)
    live_pnl.signals_follow(signals=[s for s in active if s.pk not in closed])


def signals_expire(*, now: datetime) -> int:
    """Close ACTIVE signals past their expiry as EXPIRED, at the option's last stored price
    (none when the feed never carried that option); return how many."""
    expired = selectors.signals_active_expired(cutoff={"expiry__lt": option_expiry_first_live(now)})
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
