"""The channel layer on its own: mailbox conflation, and the in-process mode of `make run`."""

import asyncio
import json

from channels.layers import get_channel_layer
from django.test import override_settings

from marketdata.live import publish
from marketdata.live.layer import FanoutChannelLayer, Mailbox
from marketdata.tests.live.helpers import tick

IN_PROCESS = {"default": {"BACKEND": "marketdata.live.layer.FanoutChannelLayer"}}


def _tick(symbol: str, n: int) -> dict:
    return {"type": "tick.message", "conflate": f"tick:{symbol}", "text": f"{symbol}{n}"}


def _drain(mailbox: Mailbox) -> list[str]:
    async def drain() -> list[str]:
        return [(await mailbox.get())["text"] for _ in range(len(mailbox))]

    return asyncio.run(drain())


def test_mailbox_keeps_every_message_in_order_while_the_client_keeps_up():
    mailbox = Mailbox(capacity=3)
    for n in range(3):
        mailbox.put(_tick("NIFTY", n))

    assert _drain(mailbox) == ["NIFTY0", "NIFTY1", "NIFTY2"]


def test_full_mailbox_replaces_the_newest_unsent_tick_of_the_same_symbol():
    mailbox = Mailbox(capacity=3)
    for message in [_tick("NIFTY", 1), _tick("SENSEX", 1), _tick("NIFTY", 2), _tick("NIFTY", 3)]:
        mailbox.put(message)
    mailbox.put(_tick("SENSEX", 2))

    assert _drain(mailbox) == ["NIFTY1", "SENSEX2", "NIFTY3"]
    assert mailbox.conflated == 2


def test_full_mailbox_drops_its_oldest_message_for_one_it_cannot_conflate():
    mailbox = Mailbox(capacity=2)
    for message in [_tick("NIFTY", 1), _tick("NIFTY", 2), {"type": "signal.message", "text": "S"}]:
        mailbox.put(message)

    assert _drain(mailbox) == ["NIFTY2", "S"]
    assert mailbox.dropped == 1


@override_settings(CHANNEL_LAYERS=IN_PROCESS)
def test_async_publish_reaches_a_consumer_in_the_same_process_without_redis():
    async def scenario() -> dict:
        layer = get_channel_layer()
        assert isinstance(layer, FanoutChannelLayer)
        assert not layer.url
        channel = await layer.new_channel()
        await layer.group_add(publish.tick_group("NIFTY"), channel)
        await publish.aticks_publish(ticks=[tick("NIFTY", 23500.0), tick("SENSEX", 77000.0)])
        return await asyncio.wait_for(layer.receive(channel), 5)

    message = asyncio.run(scenario())

    pushed = json.loads(message["text"])
    assert pushed["type"] == "tick"
    assert pushed["seq"] == 1
    assert pushed["tick"]["symbol"] == "NIFTY"


@override_settings(CHANNEL_LAYERS=IN_PROCESS)
def test_a_published_batch_reaches_a_subscriber_as_one_message_per_tick_in_order():
    async def scenario() -> list[dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(publish.tick_group("NIFTY"), channel)
        prices = [23500.0, 77000.0, 23501.0, 23502.0]
        symbols = ["NIFTY", "SENSEX", "NIFTY", "NIFTY"]
        publish.ticks_publish(ticks=[tick(s, p) for s, p in zip(symbols, prices, strict=True)])
        return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(3)]

    pushed = [json.loads(message["text"]) for message in asyncio.run(scenario())]

    assert [p["tick"]["ltpc"] for p in pushed] == [23500.0, 23501.0, 23502.0]
    assert [p["seq"] for p in pushed] == [1, 2, 3]
