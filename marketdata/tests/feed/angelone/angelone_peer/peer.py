"""`AngelOnePeer`: the REST API, the scrip master and the WebSocket stream, run in two
background threads (an HTTP server and an asyncio WebSocket server)."""

import asyncio
import ssl
import threading
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import serve

from marketdata.tests.feed.angelone.angelone_peer.master import PeerMaster
from marketdata.tests.feed.angelone.angelone_peer.rest import PeerCredentials, PeerRest
from marketdata.tests.feed.angelone.angelone_peer.stream import PeerStream


class AngelOnePeer(PeerRest, PeerMaster, PeerStream):
    def __init__(
        self,
        *,
        credentials: PeerCredentials | None = None,
        tick_interval: float = 0.02,
        tls: ssl.SSLContext | None = None,
        paced: bool = False,
        on_send: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self._rest_init(credentials or PeerCredentials())
        self._master_init()
        self._stream_init(tick_interval=tick_interval, paced=paced, on_send=on_send)
        self.tls = tls
        self._threads: list[threading.Thread] = []
        self._ws_server: Any = None

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.tls else "ws"
        return f"{scheme}://127.0.0.1:{self._ws_server.sockets[0].getsockname()[1]}/smart-stream"

    def start(self) -> "AngelOnePeer":
        ready = threading.Event()
        self._http.start()
        self._threads = [threading.Thread(target=self._run_loop, args=(ready,), daemon=True)]
        for thread in self._threads:
            thread.start()
        if not ready.wait(10):
            raise RuntimeError("the peer's WebSocket server did not start")
        return self

    def stop(self) -> None:
        self._http.stop()
        asyncio.run_coroutine_threadsafe(self._close_server(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        for thread in self._threads:
            thread.join(10)

    def expire_sessions(self) -> None:
        """End every session (as Angel One does overnight) and close the streams."""
        self.invalidate_sessions()
        self.drop_connections()

    def _run_loop(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._open_server())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _open_server(self) -> None:
        self._ws_server = await serve(
            self._serve_connection,
            "127.0.0.1",
            0,
            process_request=self._check_handshake,
            ping_interval=None,
            ssl=self.tls,
        )

    async def _close_server(self) -> None:
        self._ws_server.close()
        await self._ws_server.wait_closed()
