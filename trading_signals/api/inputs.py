"""Reading request input: validated serializer data, and bounded whole-number query parameters.

Every failure is a DRF ValidationError naming the field, so the error handler answers 400 in
the one error shape.
"""

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.serializers import Serializer


def validated(
    serializer_class: type[Serializer[Any]], data: Any, *, partial: bool = False
) -> dict[str, Any]:
    """`data` (a request body or query parameters) checked by `serializer_class`."""
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def whole_number_param(
    params: Mapping[str, str], name: str, *, default: int, maximum: int | None = None
) -> int:
    """A query parameter that must be a whole number from 1 (to `maximum`), else a 400."""
    raw = params.get(name)
    if raw is None:
        return default
    value = int(raw) if raw.isascii() and raw.isdigit() else 0
    if value < 1 or (maximum is not None and value > maximum):
        upper = f" to {maximum}" if maximum is not None else " or more"
        raise ValidationError({name: [f"Must be a whole number from 1{upper}."]})
    return value
