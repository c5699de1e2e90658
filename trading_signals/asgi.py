"""The ASGI application: Django for HTTP, Channels for `/ws`."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_signals.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from marketdata.live.routing import websocket_urlpatterns  # noqa: E402
from trading_signals.server_gc import server_gc_tune  # noqa: E402

application = ProtocolTypeRouter(
    # (types-channels wants its own URLPattern type, which re_path does not return.)
    {"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)}  # type: ignore[arg-type]
)

server_gc_tune()  # after loading: what is loaded now is never collected
