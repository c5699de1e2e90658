"""The tick's wire shape (`live/render.py`): what `TickSerializer` declares, for ticks and
stored rows alike."""

from dataclasses import replace

import pytest
from rest_framework import serializers

from marketdata.models import MarketData
from marketdata.serializers import TickSerializer
from marketdata.services import tick_ingest
from marketdata.tests.conftest import make_tick

pytestmark = pytest.mark.django_db


def drf_generic_shape(instance: object) -> dict:
    return serializers.Serializer.to_representation(TickSerializer(), instance)


def test_a_tick_renders_exactly_as_drf_declares_it(market_clock):
    full = make_tick(
        open=23400.5, high=23510, low=23390.25, close=23380, volume=1250, depth={"buy": []}
    )
    sparse = replace(make_tick(), exchange_type=None, volume=None, ch=None, is_realtime=False)

    for tick in (full, sparse):
        assert TickSerializer(tick).data == drf_generic_shape(tick)


def test_a_stored_row_renders_like_the_tick_it_came_from(market_clock):
    tick = make_tick(open=23400.5, high=23510, low=23390.25, close=23380, volume=1250)
    [stored] = tick_ingest(ticks=[tick]).stored

    row = MarketData.objects.get()

    assert TickSerializer(row).data == drf_generic_shape(row) == TickSerializer(stored).data
