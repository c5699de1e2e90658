"""Live push on /ws: the channel layer, the per-connection limits (docs/live-push.md) and the
demand that decides what the feed streams (marketdata/demand/).

The WS_* limits and the LIVE_DEMAND_* settings must be positive; that is checked at start-up
(trading_signals/checks.py).
"""

from trading_signals.settings.environment import env
from trading_signals.settings.storage import REDIS_URL

if REDIS_URL:
    # One Redis pub/sub message per tick, fanned out in each server process (docs/live-push.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "marketdata.live.layer.FanoutChannelLayer",
            "CONFIG": {"url": REDIS_URL},
        }
    }
else:
    # Only valid while the server and the feed share one process (the embedded default).
    CHANNEL_LAYERS = {"default": {"BACKEND": "marketdata.live.layer.FanoutChannelLayer"}}

# Subscriptions per connection, and symbols per subscribe/unsubscribe message.
WS_MAX_SYMBOLS = env.int("WS_MAX_SYMBOLS", default=50)
# Larger client messages get a `message_too_large` error.
WS_MAX_MESSAGE_BYTES = env.int("WS_MAX_MESSAGE_BYTES", default=4096)
# Client messages per second (token bucket), and how many may come at once; a client that
# keeps sending after WS_RATE_LIMIT_BURST refused messages in a row is closed with 4429.
WS_RATE_LIMIT_PER_SECOND = env.float("WS_RATE_LIMIT_PER_SECOND", default=10.0)
WS_RATE_LIMIT_BURST = env.int("WS_RATE_LIMIT_BURST", default=20)
# Unsent bytes above which a client counts as slow: its ticks are conflated until it catches up.
WS_SEND_BUFFER_BYTES = env.int("WS_SEND_BUFFER_BYTES", default=65536)
WS_SLOW_CLIENT_POLL_SECONDS = 0.02

# --- Demand: what the feed streams (docs/live-push.md, "What the feed streams") ---
# Seconds an instrument stays streamed after the last /ws subscriber of a server process
# leaves, and after an option-chain request touched it.
LIVE_DEMAND_GRACE_SECONDS = env.float("LIVE_DEMAND_GRACE_SECONDS", default=60.0)
# Instruments the feed streams at most: Angel One's 3 connections x 1,000 tokens. A /ws
# subscribe that would go past it gets a `subscription_limit` error.
LIVE_DEMAND_MAX_INSTRUMENTS = env.int("LIVE_DEMAND_MAX_INSTRUMENTS", default=3000)

# --- Signals' live P&L on /ws (docs/signals.md, "Live events") ---
# `price` events a second at most for each ACTIVE signal whose option ticks.
SIGNAL_PNL_EVENTS_PER_SECOND = env.float("SIGNAL_PNL_EVENTS_PER_SECOND", default=2.0)
# The admin's signal list counts an ACTIVE signal's option as not streaming when its last tick
# is older than this many minutes.
SIGNAL_FEED_STALE_MINUTES = env.float("SIGNAL_FEED_STALE_MINUTES", default=5.0)
