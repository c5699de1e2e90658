"""The scheduled expiry job, as beat runs it (a Celery task calling the service)."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from signals.models import Outcome, Status
from signals.services import IST
from signals.tasks import signals_expire

pytestmark = pytest.mark.django_db


def test_the_expiry_task_closes_signals_past_their_expiry_day(make_signal):
    today = timezone.now().astimezone(IST).date()
    expired, running = make_signal(expiry=today), make_signal(expiry=today + timedelta(days=7))
    after_close = datetime.combine(today, time(15, 31), tzinfo=IST)

    assert signals_expire.apply(kwargs={"now": after_close.isoformat()}).get() == 1

    expired.refresh_from_db()
    running.refresh_from_db()
    assert (expired.status, expired.outcome) == (Status.COMPLETED, Outcome.EXPIRED)
    assert running.status == Status.ACTIVE
