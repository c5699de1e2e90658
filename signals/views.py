"""The signals API: list, detail, create, edit, cancel, close and performance."""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from signals import selectors, services
from signals.filters import SignalFilterSerializer
from signals.models import Signal
from signals.pagination import SignalPagination
from signals.permissions import IsStaffOrReadOnly
from signals.serializers import (
    PerformanceQuerySerializer,
    PerformanceSerializer,
    SignalCloseInputSerializer,
    SignalInputSerializer,
    SignalOutputSerializer,
    SignalUpdateInputSerializer,
)
from trading_signals.api.inputs import validated
from trading_signals.api.openapi import BAD_INPUT, SIGNED_IN, error_response

FORBIDDEN = error_response(
    "Only staff with the signals permission (add_signal, change_signal) can write."
)
NO_SIGNAL = error_response("No such signal.")
WRITE_ERRORS = {400: BAD_INPUT, 403: FORBIDDEN, **SIGNED_IN}
# Writes to one signal: those, or no signal by that id.
EDIT_ERRORS = {**WRITE_ERRORS, 404: NO_SIGNAL}


@extend_schema(tags=["signals"])
@extend_schema_view(
    list=extend_schema(
        parameters=[SignalFilterSerializer],
        responses={
            200: SignalOutputSerializer(many=True),
            400: BAD_INPUT,
            404: error_response("`page` is past the last page."),
            **SIGNED_IN,
        },
    ),
    retrieve=extend_schema(responses={200: SignalOutputSerializer, 404: NO_SIGNAL, **SIGNED_IN}),
)
class SignalViewSet(viewsets.GenericViewSet[Signal]):
    """Option trading signals: everyone signed in reads them; staff with the model permissions
    (`signals.add_signal`, `signals.change_signal`) publish, edit and close them."""

    permission_classes = [IsStaffOrReadOnly]
    parser_classes = [JSONParser]  # JSON bodies only, as for the auth endpoints (accounts.views)
    pagination_class = SignalPagination
    serializer_class = SignalOutputSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Signal]:
        if self.action != "list":
            return selectors.signal_list(filters={})
        query = validated(SignalFilterSerializer, self.request.query_params)
        return selectors.signal_list(filters=query)

    def _rendered(self, signals: Iterable[Signal]) -> Any:
        """Rendered with their options' last prices, read in one query."""
        signals = list(signals)
        quotes = selectors.signal_quotes(signals=signals)
        return SignalOutputSerializer(signals, many=True, context={"quotes": quotes}).data

    def _respond(self, signal: Signal, code: int = status.HTTP_200_OK) -> Response:
        return Response(self._rendered([signal])[0], status=code)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # SignalPagination always pages
        return self.get_paginated_response(self._rendered(page))

    def retrieve(self, request: Request, pk: str) -> Response:
        return self._respond(self.get_object())

    @extend_schema(
        request=SignalInputSerializer, responses={201: SignalOutputSerializer, **WRITE_ERRORS}
    )
    def create(self, request: Request) -> Response:
        data = validated(SignalInputSerializer, request.data)
        assert isinstance(request.user, User)  # IsStaffOrReadOnly: signed-in staff
        signal = services.signal_create(author=request.user, data=data)
        return self._respond(signal, status.HTTP_201_CREATED)

    @extend_schema(
        request=SignalUpdateInputSerializer, responses={200: SignalOutputSerializer, **EDIT_ERRORS}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        data = validated(SignalUpdateInputSerializer, request.data, partial=True)
        signal = services.signal_update(signal=self.get_object(), data=data)
        return self._respond(signal)

    @extend_schema(request=None, responses={200: SignalOutputSerializer, **EDIT_ERRORS})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._respond(services.signal_cancel(signal=self.get_object()))

    @extend_schema(
        request=SignalCloseInputSerializer, responses={200: SignalOutputSerializer, **EDIT_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        data = validated(SignalCloseInputSerializer, request.data)
        signal = services.signal_close(signal=self.get_object(), **data)
        return self._respond(signal)

    @extend_schema(
        parameters=[PerformanceQuerySerializer],
        responses={200: PerformanceSerializer, 400: BAD_INPUT, **SIGNED_IN},
        description="Signals closed with an exit price in the range, per author, underlying, "
        "signal type and period (IST day, week or month of their close).",
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def performance(self, request: Request) -> Response:
        query = validated(PerformanceQuerySerializer, request.query_params)
        figures = selectors.signal_performance(
            start=query.get("start"), end=query.get("end"), period=query["period"]
        )
        return Response(PerformanceSerializer(figures).data)
