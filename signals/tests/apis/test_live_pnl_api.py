"""An ACTIVE signal's live fields in the API: its option's last price and time, and the
unrealised P&L there, per lot and for the signal; read for a whole page in one query."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from signals.models import Signal, Status
from signals.tests.helpers import SELL_OPTION, sell_data, stored_tick

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("option_master")]

BASE = "/api/v1/signals/"


def test_an_active_signal_carries_its_options_last_price_and_pnl(user_client, active_signal):
    """A BUY of 2 lots (75) from 120: the option last traded at 131.5, a minute ago."""
    at = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    stored_tick(128.0, at - timedelta(seconds=30))
    stored_tick(131.5, at)

    body = user_client.get(f"{BASE}{active_signal.pk}").json()

    assert body["last_price"] == 131.5
    assert body["last_price_at"] == at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert body["unrealised_pnl"] == {
        "per_lot": {"points": 11.5, "rupees": 862.5, "percent": 9.5833},
        "total": {"points": 23.0, "rupees": 1725.0, "percent": 9.5833},
    }
    assert body["unrealised_pnl_reason"] is None


def test_a_list_reads_the_last_prices_of_its_signals_in_one_query(
    user_client, make_signal, django_assert_max_num_queries
):
    buy, sell = make_signal(), make_signal(**sell_data())
    quiet = make_signal(symbol="NIFTY25DEC24500CE")
    cancelled = make_signal()
    now = timezone.now()
    stored_tick(131.5, now)
    stored_tick(112.0, now, symbol=SELL_OPTION)
    Signal.objects.filter(pk=cancelled.pk).update(status=Status.CANCELLED, closed_at=now)

    # the token's user, the page's count and rows, and one read of all the last ticks
    with django_assert_max_num_queries(4):
        rows = {row["id"]: row for row in user_client.get(BASE).json()["results"]}

    assert rows[buy.pk]["unrealised_pnl"]["total"]["rupees"] == 1725.0
    # SELL 2 lots of 35 from 120, now 112: +8 a unit, 280 a lot, 560 in all
    assert rows[sell.pk]["unrealised_pnl"]["per_lot"] == {
        "points": 8.0,
        "rupees": 280.0,
        "percent": 6.6667,
    }
    assert rows[sell.pk]["unrealised_pnl"]["total"]["rupees"] == 560.0
    assert (rows[quiet.pk]["last_price"], rows[quiet.pk]["unrealised_pnl_reason"]) == (
        None,
        "no_price",
    )
    assert (rows[cancelled.pk]["unrealised_pnl"], rows[cancelled.pk]["unrealised_pnl_reason"]) == (
        None,
        "not_active",
    )
