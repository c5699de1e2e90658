"""Input and output shapes of the auth endpoints."""

from rest_framework import serializers

from accounts.models import User
from trading_signals.api.serializers import IdField


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)


class LoginInputSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)


# Our refresh tokens are about 400 characters; anything much longer is not one of them.
MAX_TOKEN_LENGTH = 2048


class RefreshInputSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=MAX_TOKEN_LENGTH)


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
