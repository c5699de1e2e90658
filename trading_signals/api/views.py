"""The service endpoints: `/` (what this API is) and `/health`."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trading_signals.health import health_report

HEALTH_SHAPE = inline_serializer(
    "Health",
    {
        "healthy": serializers.BooleanField(),
        "checks": serializers.DictField(child=serializers.CharField()),
    },
)


class PublicView(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]


class HealthView(PublicView):
    @extend_schema(
        tags=["service"],
        responses={
            200: HEALTH_SHAPE,
            503: HEALTH_SHAPE,
        },
    )
    def get(self, request: Request) -> Response:
        report = health_report()
        code = status.HTTP_200_OK if report["healthy"] else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report, status=code)


class RootView(PublicView):
    @extend_schema(
        tags=["service"],
        responses={
            200: inline_serializer(
                "ApiInfo",
                {
                    name: serializers.CharField()
                    for name in (
                        "name",
                        "version",
                        "environment",
                        "docs",
                        "redoc",
                        "openapi",
                        "health",
                    )
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": settings.APP_NAME,
                "version": settings.APP_VERSION,
                "environment": settings.ENVIRONMENT,
                "docs": request.build_absolute_uri("/docs"),
                "redoc": request.build_absolute_uri("/redoc"),
                "openapi": request.build_absolute_uri("/openapi.json"),
                "health": request.build_absolute_uri("/health"),
            }
        )
