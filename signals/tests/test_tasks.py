"""The scheduled expiry job, as beat runs it (a Celery task calling the service)."""

from datetime import datetime, time, timedelta

import pytest
import time_machine

from marketdata.market_calendar import IST
from signals.models import Outcome, Status
from signals.tasks import signals_expire
from signals.tests.helpers import dated_option, today_ist

pytestmark = pytest.mark.django_db


def test_the_expiry_task_closes_signals_past_their_expiry_day(make_signal):
    today = today_ist()
    expiring, next_week = dated_option(today), dated_option(today + timedelta(days=7))
    with time_machine.travel(datetime.combine(today, time(10), tzinfo=IST), tick=False):
        expired, running = make_signal(symbol=expiring), make_signal(symbol=next_week)
    after_close = datetime.combine(today, time(15, 31), tzinfo=IST)

    assert signals_expire.apply(kwargs={"now": after_close.isoformat()}).get() == 1

    expired.refresh_from_db()
    running.refresh_from_db()
    assert (expired.status, expired.outcome) == (Status.COMPLETED, Outcome.EXPIRED)
    assert running.status == Status.ACTIVE
