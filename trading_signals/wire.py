"""JSON wire formats shared by the REST API and the live push, without DRF's per-field cost."""

from datetime import UTC, date, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

_ENCODER = DjangoJSONEncoder(separators=(",", ":"))


def json_render(payload: dict[str, Any]) -> str:
    """Compact JSON; datetimes, dates and decimals as Django's encoder writes them."""
    return _ENCODER.encode(payload)


def utc_iso(moment: datetime) -> str:
    """What DRF's DateTimeField writes under TIME_ZONE=UTC, without its per-call timezone lookup."""
    text = moment.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def optional_utc_iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_iso(moment)


def optional_date_iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def key_render(value: Any) -> int | str:
    """A primary key: an integer on SQL stores, an ObjectId string on MongoDB."""
    return value if isinstance(value, int) else str(value)
