"""The marketdata app."""

from typing import Any

from django.apps import AppConfig


class MarketdataConfig(AppConfig):
    name = "marketdata"
    verbose_name = "Market data"

    def ready(self) -> None:
        from accounts.events import tokens_revoked

        tokens_revoked.connect(_live_sessions_end, dispatch_uid="marketdata.live.sessions_end")


def _live_sessions_end(sender: Any, *, user_id: Any, **kwargs: Any) -> None:
    from marketdata.live.publish import user_connections_close

    user_connections_close(user_id=user_id)
