"""The accounts' scheduled job, as beat runs it (a Celery task applied locally)."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import RevokedToken
from accounts.tasks import revoked_tokens_purge

pytestmark = pytest.mark.django_db


def test_expired_revoked_tokens_are_purged():
    now = datetime.now(tz=UTC)
    RevokedToken.objects.create(jti="old", expires_at=now - timedelta(days=1))
    RevokedToken.objects.create(jti="live", expires_at=now + timedelta(days=1))

    assert revoked_tokens_purge.apply().get() == 1
    assert list(RevokedToken.objects.values_list("jti", flat=True)) == ["live"]
