"""WebSocket routes: `/ws`."""

from django.urls import re_path

from marketdata.live.consumer import LiveConsumer

# Channels routes ASGI applications through Django's re_path (its documented use), which
# django-stubs types for Django views only.
websocket_urlpatterns = [re_path(r"^ws/?$", LiveConsumer.as_asgi())]  # type: ignore[arg-type]
