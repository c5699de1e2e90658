from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class IdField(serializers.Field):
    """Integer keys on SQL stores, ObjectId strings on MongoDB."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> int | str:
        return value if isinstance(value, int) else str(value)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)


class LoginInputSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)


class RefreshInputSerializer(serializers.Serializer):
    refresh_token = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Access token lifetime in seconds.")


class UserOutputSerializer(serializers.ModelSerializer):
    id = IdField()

    class Meta:
        model = User
        fields = ["id", "email", "name", "is_active", "is_verified", "created_at", "updated_at"]
        read_only_fields = fields
