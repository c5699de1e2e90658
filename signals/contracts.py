"""The option contract a new signal is published on, found in the instrument master.

A signal names its option by `symbol` (the master's trading symbol), or by `underlying`,
`expiry`, `strike` and `option_type`; the admin picks the `instrument` itself. The contract
must be an option (OPTIDX/OPTSTK) on one of the six indices that has not expired (15:30 IST on
its expiry day). What the master says about it (symbol, underlying, option type, strike,
expiry, token, exchange, lot size) is copied onto the signal, which keeps working with its
copies after the master retires the contract.
"""

import math
import re
from collections import defaultdict
from datetime import date, datetime
from typing import Any, TypeGuard

from django.apps.registry import Apps

from marketdata.market_calendar import option_expiry_first_live
from marketdata.models import Instrument
from signals.models import (
    OPTION_INSTRUMENT_TYPES,
    OptionType,
    Underlying,
)

Errors = defaultdict[str, list[str]]

CONTRACT_FIELDS = ("symbol", "underlying", "option_type", "strike", "expiry")
TERMS = ("underlying", "expiry", "strike", "option_type")  # what names an option without a symbol

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9&_-]{0,63}$")
NO_CONTRACT_NAMED = "Name the option: its symbol, or underlying, expiry, strike and option_type."
EXPIRED = "Options expire at 15:30 IST on their expiry day; this one has expired."


def contract_copies(instrument: Instrument) -> dict[str, Any]:
    """The signal's values that come from the master."""
    return {
        "instrument": instrument,
        "symbol": instrument.symbol,
        "underlying": instrument.name,
        "option_type": instrument.symbol[-2:],  # Angel One's option symbols end in CE or PE
        "strike": instrument.strike,
        "expiry": instrument.expiry,
        "token": instrument.token,
        "exchange": instrument.exchange,
        "lot_size": instrument.lot_size,
    }


def is_number(value: Any) -> TypeGuard[int | float]:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _given(terms: dict[str, Any], field: str) -> bool:
    return terms.get(field) not in (None, "")


def _refusal(instrument: Instrument, now: datetime) -> tuple[str, str] | None:
    """Why a signal cannot be published on this master row: (the field to blame, the reason)."""
    if instrument.instrument_type not in OPTION_INSTRUMENT_TYPES:
        kind = instrument.instrument_type or "untyped"
        return "", f"{instrument.symbol} is not an option contract (the master lists it as {kind})."
    if instrument.name not in Underlying.values:
        return "underlying", f"{instrument.name} options are not offered: one of the six indices."
    if instrument.lot_size < 1:
        return "", f"The master lists no lot size for {instrument.symbol}."
    if instrument.expiry is None:
        return "", f"The master lists no expiry for {instrument.symbol}."
    if instrument.expiry < option_expiry_first_live(now):
        return "", f"{instrument.symbol} expired at 15:30 IST on {instrument.expiry.isoformat()}."
    return None


def _checked(
    instrument: Instrument, field: str, now: datetime, errors: Errors
) -> Instrument | None:
    refusal = _refusal(instrument, now)
    if refusal is None:
        return instrument
    blamed, reason = refusal
    errors[blamed or field].append(reason)
    return None


def _by_symbol(symbol: Any, errors: Errors) -> Instrument | None:
    if not isinstance(symbol, str) or not SYMBOL_PATTERN.match(symbol):
        errors["symbol"].append("Use 1-64 letters, digits, '&', '_' or '-'.")
        return None
    rows = sorted(
        Instrument.objects.filter(symbol=symbol),
        # An option first, should a symbol be listed on several segments.
        key=lambda row: (
            row.instrument_type not in OPTION_INSTRUMENT_TYPES,
            row.exchange,
            row.token,
        ),
    )
    if not rows:
        errors["symbol"].append(
            f"No contract {symbol} in the instrument master (manage.py sync_instruments loads it)."
        )
        return None
    return rows[0]


def _contradictions(contract: dict[str, Any], terms: dict[str, Any], errors: Errors) -> None:
    for field in TERMS:
        if _given(terms, field) and terms[field] != contract[field]:
            errors[field].append(
                f"{contract['symbol']} has {field} {contract[field]}: send that, or leave it out."
            )


def _term_errors(terms: dict[str, Any], now: datetime, errors: Errors) -> bool:
    """Check the terms that name an option without a symbol; True when they are usable."""
    missing = [field for field in TERMS if not _given(terms, field)]
    if len(missing) == len(TERMS):
        errors["symbol"].append(NO_CONTRACT_NAMED)
        return False
    for field in missing:
        errors[field].append("Required without a symbol.")
    for field, choices in (("underlying", Underlying), ("option_type", OptionType)):
        if _given(terms, field) and terms[field] not in choices.values:
            errors[field].append(f"Must be one of {', '.join(choices.values)}.")
    strike = terms.get("strike")
    if _given(terms, "strike") and not (is_number(strike) and strike > 0):
        errors["strike"].append("Must be a positive number.")
    expiry = terms.get("expiry")
    if _given(terms, "expiry") and not isinstance(expiry, date):
        errors["expiry"].append("Must be a date (YYYY-MM-DD).")
    elif isinstance(expiry, date) and expiry < option_expiry_first_live(now):
        errors["expiry"].append(EXPIRED)
    return not errors.keys() & {"symbol", *TERMS}


def _by_terms(terms: dict[str, Any], errors: Errors) -> Instrument | None:
    underlying, expiry = terms["underlying"], terms["expiry"]
    on_that_day = Instrument.objects.filter(
        name=underlying, expiry=expiry, instrument_type__in=OPTION_INSTRUMENT_TYPES
    )
    contract = (
        on_that_day.filter(strike=terms["strike"], symbol__endswith=terms["option_type"])
        .order_by("exchange", "token")
        .first()
    )
    if contract is not None:
        return contract
    if on_that_day.exists():
        errors["strike"].append(
            f"No {underlying} {terms['option_type']} at strike {terms['strike']:g} "
            f"expiring {expiry.isoformat()} in the instrument master."
        )
    else:
        errors["expiry"].append(
            f"No {underlying} option expiring {expiry.isoformat()} in the instrument master."
        )
    return None


def contract_find(
    *, instrument: Instrument | None, terms: dict[str, Any], now: datetime, errors: Errors
) -> dict[str, Any]:
    """The master's values for the option a new signal names (empty, with `errors` filled,
    when it names none that may be published on).

    `instrument` is the admin's choice; otherwise `terms` (normalized `symbol`, `underlying`,
    `expiry`, `strike`, `option_type`) name it. A term sent beside a symbol must agree with
    the symbol's contract.
    """
    if instrument is not None:
        found = _checked(instrument, "instrument", now, errors)
    elif _given(terms, "symbol"):
        row = _by_symbol(terms["symbol"], errors)
        found = row and _checked(row, "symbol", now, errors)
    elif _term_errors(terms, now, errors):
        row = _by_terms(terms, errors)
        found = row and _checked(row, "expiry", now, errors)
    else:
        found = None
    if found is None:
        return {}
    contract = contract_copies(found)
    _contradictions(contract, terms, errors)
    return contract


def signals_link_to_master(apps: Apps, schema_editor: object) -> None:
    """Data migration: tie each signal published before signals were built on the master to
    the option contract of the same symbol, copying its token, exchange and lot size (and its
    strike and expiry where the signal had none). A signal whose symbol names no option
    contract keeps working untied, its copies empty (`instrument_matched` false)."""
    signal_model = apps.get_model("signals", "Signal")
    instrument_model = apps.get_model("marketdata", "Instrument")
    untied = signal_model.objects.filter(token="")
    symbols = sorted(set(untied.values_list("symbol", flat=True)))
    for start in range(0, len(symbols), 500):
        rows = instrument_model.objects.filter(
            symbol__in=symbols[start : start + 500],
            instrument_type__in=OPTION_INSTRUMENT_TYPES,
            lot_size__gt=0,
        ).order_by("exchange", "token")
        contracts: dict[str, Any] = {}  # historical models: no static type
        for row in rows:
            contracts.setdefault(row.symbol, row)
        for symbol, row in contracts.items():
            signals = untied.filter(symbol=symbol)
            signals.filter(strike__isnull=True).update(strike=row.strike)
            signals.filter(expiry__isnull=True).update(expiry=row.expiry)
            signals.update(
                instrument=row, token=row.token, exchange=row.exchange, lot_size=row.lot_size
            )
