"""What accounts announce to the apps that build on it (they import accounts, never the
reverse): Django signals, sent once the change is committed."""

from typing import Any

from django.db import transaction
from django.dispatch import Signal

# Every token of a user was revoked (a new password, a deactivation, "log out everywhere"):
# sent with `user_id`. The live push closes that user's open /ws connections.
tokens_revoked = Signal()


def tokens_revoked_announce(*, user_id: Any) -> None:
    """Send `tokens_revoked` on commit; a receiver's failure is logged, never raised into the
    request that revoked (the tokens are revoked either way)."""
    transaction.on_commit(
        lambda: tokens_revoked.send_robust(sender=None, user_id=user_id), robust=True
    )
