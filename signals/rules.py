"""The rules of a signal, for a new one and for changes to one: `signal_clean`.

The API and the admin both go through it (by way of signals.services), so a rule holds the same
everywhere, on every store (SQL stores also carry check constraints; MongoDB has only these
checks). The option itself comes from the instrument master (signals.contracts) and cannot
change once published.
"""

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from signals.contracts import CONTRACT_FIELDS, contract_find, is_number
from signals.models import Signal, SignalType, Status
from trading_signals.errors import ApplicationError

NOTES_MAX_LENGTH = 2000

REQUIRED_FIELDS = (
    "signal_type", "entry_price", "target_price", "stop_loss", "quantity", "confidence",
)  # fmt: skip
EDITABLE_FIELDS = (*REQUIRED_FIELDS, "notes")
PRICE_FIELDS = ("entry_price", "target_price", "stop_loss")

REQUIRED = "This field is required."
CLOSED_READ_ONLY = "A closed signal cannot be edited except its notes."
CLOSED_MEANWHILE = "The signal was closed meanwhile; only its notes can be edited now."
CONTRACT_FIXED = (
    "A published signal's option cannot change; cancel it and publish one on the other option."
)

Errors = defaultdict[str, list[str]]


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _normalize(values: dict[str, Any]) -> None:
    for field in ("symbol", "underlying", "option_type", "signal_type"):
        if isinstance(values.get(field), str):
            values[field] = values[field].strip().upper()
    if "notes" in values and values["notes"] is None:
        values["notes"] = ""


def _price_errors(values: Mapping[str, Any], errors: Errors) -> None:
    for field in PRICE_FIELDS:
        if not is_number(values.get(field)) or values[field] <= 0:
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


def _field_errors(values: Mapping[str, Any]) -> Errors:
    """The trade's own rules: direction, levels, lots, confidence and notes."""
    errors: Errors = defaultdict(list)
    if values.get("signal_type") not in SignalType.values:
        errors["signal_type"].append(f"Must be one of {', '.join(SignalType.values)}.")
    _price_errors(values, errors)
    if not _is_integer(values.get("quantity")) or values["quantity"] <= 0:
        errors["quantity"].append("Must be a positive integer (lots).")
    if not _is_integer(values.get("confidence")) or not 0 <= values["confidence"] <= 100:
        errors["confidence"].append("Must be an integer from 0 to 100.")
    if not isinstance(values.get("notes"), str) or len(values["notes"]) > NOTES_MAX_LENGTH:
        errors["notes"].append(f"Must be text of at most {NOTES_MAX_LENGTH} characters.")
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
    if closing and (not is_number(exit_price) or exit_price <= 0):
        errors["exit_price"].append("Closing needs a positive exit price.")
    elif not closing and exit_price is not None and exit_price != signal.exit_price:
        errors["exit_price"].append("Only set when closing the signal (status COMPLETED).")
    return errors


def _raise_if(errors: Mapping[str, list[str]]) -> None:
    if errors:
        fields = ", ".join(sorted(errors))
        raise ApplicationError(f"Invalid signal: check {fields}.", errors=dict(errors))


def _new_signal(data: Mapping[str, Any]) -> dict[str, Any]:
    values = {field: data.get(field) for field in EDITABLE_FIELDS}
    terms = {field: data.get(field) for field in CONTRACT_FIELDS}
    _normalize(values)
    _normalize(terms)
    missing = [field for field in REQUIRED_FIELDS if values[field] is None]
    errors: Errors = defaultdict(list, {field: [REQUIRED] for field in missing})
    if not missing:
        errors = _field_errors(values)
    contract = contract_find(
        instrument=data.get("instrument"), terms=terms, now=timezone.now(), errors=errors
    )
    _raise_if(errors)
    return {**values, **contract}


def _given_contract_terms(data: Mapping[str, Any]) -> dict[str, Any]:
    # An edit may repeat the option (the API client sends the whole signal back); a blank
    # term says nothing about it.
    return {f: data[f] for f in CONTRACT_FIELDS if f in data and data[f] not in (None, "")}


def _changes(signal: Signal, data: Mapping[str, Any]) -> dict[str, Any]:
    errors = _transition_errors(signal, data)
    fields = (*EDITABLE_FIELDS, *CONTRACT_FIELDS)
    current = {field: getattr(signal, field) for field in fields}
    given = {k: v for k, v in data.items() if k in EDITABLE_FIELDS} | _given_contract_terms(data)
    values = {**current, **given}
    _normalize(values)
    changed = {field: value for field, value in values.items() if value != current[field]}
    if signal.status != Status.ACTIVE:
        for field in changed.keys() - {"notes"}:
            errors[field].append(CLOSED_READ_ONLY)
    else:
        for field in changed.keys() & set(CONTRACT_FIELDS):
            errors[field].append(CONTRACT_FIXED)
        for field, reasons in _field_errors(values).items():
            errors[field].extend(reasons)
    _raise_if(errors)
    status = data.get("status", signal.status)
    if status != signal.status:
        changed["status"] = status
        if status == Status.COMPLETED:
            changed["exit_price"] = data["exit_price"]
    return changed


def signal_clean(*, signal: Signal | None, data: Mapping[str, Any]) -> dict[str, Any]:
    """Check `data` as a new signal (`signal` None) or as changes to `signal`.

    Returns the normalized values: for a new signal, with the option's values copied from the
    instrument master; for an edit, only what differs. Raises ApplicationError naming every
    field that breaks a rule.
    """
    return _new_signal(data) if signal is None else _changes(signal, data)
