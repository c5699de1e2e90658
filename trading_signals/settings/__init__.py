"""Settings for Trading Signals, read from the environment (and `.env` when present).

One module per concern; every variable is documented in `.env.example`. A module that needs
another's value imports it by name, so the order below is for the reader only.
"""

# isort: skip_file
from .environment import *  # noqa: F403
from .base import *  # noqa: F403
from .security import *  # noqa: F403
from .storage import *  # noqa: F403
from .api import *  # noqa: F403
from .live import *  # noqa: F403
from .feed import *  # noqa: F403
from .celery import *  # noqa: F403
from .logging import *  # noqa: F403
