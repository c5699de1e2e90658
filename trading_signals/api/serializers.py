"""Shapes every API shares: the error body, primary keys on any store, and finite numbers."""

import math
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class IdField(serializers.Field[Any, Any, int | str, Any]):
    """Integer keys on SQL stores, ObjectId strings on MongoDB."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> int | str:
        return value if isinstance(value, int) else str(value)


class FiniteFloatField(serializers.FloatField):
    """A number; `nan`, `inf` and `-inf`, which `float()` reads, are refused."""

    default_error_messages = {"not_finite": "Must be a finite number."}

    def to_internal_value(self, data: Any) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("not_finite")
        return value


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    # DRF's metaclass moves declared fields off the class, so `Serializer.errors` (which the
    # stubs see this shadowing) is untouched.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField())
    )


class FromToSerializer(serializers.Serializer[Any]):
    """A serializer with `from` and `to` fields, read from and written to `start` and `end`.

    `from` is a Python keyword, so it cannot be declared as a class attribute: subclasses say
    which field type the pair has through `from_to_field`, and `get_fields` adds them.
    """

    def from_to_field(self) -> serializers.Field[Any, Any, Any, Any]:
        return serializers.DateTimeField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        for name, source in (("from", "start"), ("to", "end")):
            field = self.from_to_field()
            field.source = source
            fields[name] = field
        return fields
