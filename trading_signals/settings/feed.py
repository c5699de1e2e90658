"""Market data and the feed: Angel One SmartAPI, tick grading and the feed pipeline.

See docs/market-data.md and docs/feed.md. Ranges (positive sizes and intervals, a buffer that
holds at least one batch) are checked at start-up (trading_signals/checks.py).
"""

from trading_signals.settings.environment import env

# --- Angel One SmartAPI credentials: all four set picks the live source ---
ANGEL_ONE_API_KEY = env.str("ANGEL_ONE_API_KEY", default="")
ANGEL_ONE_CLIENT_ID = env.str("ANGEL_ONE_CLIENT_ID", default="")
ANGEL_ONE_PASSWORD = env.str("ANGEL_ONE_PASSWORD", default="")
ANGEL_ONE_TOTP_KEY = env.str("ANGEL_ONE_TOTP_KEY", default="")

# --- Market data (issue 3) ---
# A tick more than this percent away from the previous tick of the same session is SUSPECT.
MARKET_DATA_JUMP_PERCENT = env.float("MARKET_DATA_JUMP_PERCENT", default=3.0)
# A realtime tick whose exchange time is older than this when ingested is STALE.
MARKET_DATA_STALE_SECONDS = env.int("MARKET_DATA_STALE_SECONDS", default=60)
# Ticks stamped further than this in the future are rejected (clock skew allowance).
MARKET_DATA_MAX_CLOCK_SKEW_SECONDS = env.int("MARKET_DATA_MAX_CLOCK_SKEW_SECONDS", default=5)
# Where `manage.py sync_instruments` downloads Angel One's instrument master from.
ANGEL_ONE_SCRIP_MASTER_URL = env.str(
    "ANGEL_ONE_SCRIP_MASTER_URL",
    default="https://margincalculator.angelbroking.com/OpenAPI_File/files/OpenAPIScripMaster.json",
)

# --- Feed pipeline (issue 4) ---
# The writer stores a batch when this many ticks wait, or FEED_FLUSH_MS after the first one.
FEED_FLUSH_TICKS = env.int("FEED_FLUSH_TICKS", default=1000)
FEED_FLUSH_MS = env.int("FEED_FLUSH_MS", default=100)
# Ticks held while the database is unavailable; beyond this the oldest are dropped and counted.
FEED_BUFFER_MAX_TICKS = env.int("FEED_BUFFER_MAX_TICKS", default=100_000)
# How often the feed writes its heartbeat, and when /health calls a silent feed stale.
FEED_HEARTBEAT_SECONDS = env.float("FEED_HEARTBEAT_SECONDS", default=5.0)
FEED_HEARTBEAT_STALE_SECONDS = env.int("FEED_HEARTBEAT_STALE_SECONDS", default=30)
# On SIGTERM, how long the feed keeps trying to store buffered ticks before giving up.
FEED_STOP_TIMEOUT_SECONDS = env.float("FEED_STOP_TIMEOUT_SECONDS", default=20.0)

# --- Angel One source (issue 4) ---
# SmartAPI's REST and WebSocket 2.0 base URLs; point them at a local peer for tests or staging.
ANGEL_ONE_API_URL = env.str("ANGEL_ONE_API_URL", default="https://apiconnect.angelone.in")
ANGEL_ONE_WS_URL = env.str(
    "ANGEL_ONE_WS_URL", default="wss://smartapisocket.angelone.in/smart-stream"
)
