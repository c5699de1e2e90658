"""bench/ws variants (b) and (c): a plain Channels consumer on channels-redis' pub/sub layer.

No authentication and no database: it measures what the library path costs per tick. Like
our consumer it skips Channels' per-message database-connection cleanup for pushed ticks
(a hop to Channels' one sync thread for every message, serialized across all clients), and
it tunes the garbage collector as the project's ASGI application does.
"""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.ws.pubsub_settings")
django_asgi_app = get_asgi_application()

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from marketdata.live.publish import tick_group  # noqa: E402
from trading_signals.server_gc import server_gc_tune  # noqa: E402


class PlainTickConsumer(AsyncJsonWebsocketConsumer):
    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        symbols = content["symbols"]
        for symbol in symbols:
            await self.channel_layer.group_add(tick_group(symbol), self.channel_name)
        await self.send_json({"type": "snapshot", "symbols": symbols, "ticks": []})

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == "tick.message":
            await self.send(text_data=message["text"])
        else:
            await super().dispatch(message)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([re_path(r"^ws/?$", PlainTickConsumer.as_asgi())]),
    }
)
server_gc_tune()  # as trading_signals/asgi.py does: the same server settings
