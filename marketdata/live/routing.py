from django.urls import re_path

from marketdata.live.consumer import LiveConsumer

websocket_urlpatterns = [re_path(r"^ws/?$", LiveConsumer.as_asgi())]
