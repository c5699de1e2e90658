"""A local Angel One SmartAPI peer: the REST API (login, candles), the scrip master and the
WebSocket 2.0 stream.

It answers the way the real service does, as far as its documentation and observed
responses go: the login, profile and token-refresh envelopes (including their error shapes),
`getCandleData` (one-minute candles whose prices tell the minutes apart, see `peer_candle`),
OpenAPIScripMaster.json at its real path (`master_url`; see `master.py`), 401 at the
WebSocket handshake for a rejected session, subscribe/unsubscribe JSON, the text `ping` ->
`pong` heartbeat, and binary frames built to the documented layout.

It runs in two background threads (an HTTP server and an asyncio WebSocket server), both on
127.0.0.1 with ports chosen by the OS, so sync and async tests can use it alike. Tests steer
it with `drop_connections()`, `expire_sessions()`, `send_garbage()`, `mute()`, the
`master_*` attributes, and read what it saw (`logins`, `refreshes`, `handshakes`,
`subscribe_messages`, `max_connections`, `candle_requests`, `master_requests`).

By default each connection sends a frame for every subscribed token at once, every
`tick_interval` seconds, stamped from one clock shared by all streams. `paced=True` (used by
bench/latency) spreads each connection's frames evenly over the interval, as a real feed
flows, and stamps each token from its own clock: the wall clock's millisecond, later than the
token's previous frame, so thousands of tokens a second stay at the wall clock. `on_send`,
when given, is called as each frame is about to be written, with (token, exchange time in ms,
`time.time_ns()`).

Modules: `rest` (the REST API and credentials), `master` (the scrip master), `stream` (the
WebSocket stream), `frames` (frames, good and garbage), `tls` (a throw-away certificate) and
`peer` (`AngelOnePeer`, which joins them).
"""

from marketdata.tests.feed.angelone.angelone_peer.frames import garbage_frames, random_frame
from marketdata.tests.feed.angelone.angelone_peer.master import (
    master_record,
    option_symbol,
    peer_master,
)
from marketdata.tests.feed.angelone.angelone_peer.peer import AngelOnePeer
from marketdata.tests.feed.angelone.angelone_peer.rest import PeerCredentials, peer_candle
from marketdata.tests.feed.angelone.angelone_peer.tls import self_signed_tls

__all__ = [
    "AngelOnePeer",
    "PeerCredentials",
    "garbage_frames",
    "master_record",
    "option_symbol",
    "peer_candle",
    "peer_master",
    "random_frame",
    "self_signed_tls",
]
