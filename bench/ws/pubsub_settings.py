"""bench/ws variants (b) and (c): the project's settings with channels-redis' pub/sub layer."""

import redis

from trading_signals.settings import *  # noqa: F403
from trading_signals.settings import REDIS_URL

# Redis pub/sub ignores database numbers: the prefix keeps benches on other databases apart.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": f"bench{redis.connection.parse_url(REDIS_URL).get('db', 0)}",
        },
    }
}
