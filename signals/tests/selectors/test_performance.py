"""Performance figures (`selectors.signal_performance`): per author, underlying, signal type
and IST period of the close, over a range of closing times; points and rupees.

How the API takes the range and renders the figures: `signals/tests/apis/test_performance.py`.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from signals import services
from signals.models import Signal
from signals.selectors import signal_performance
from signals.tests.helpers import sell_data, signal_data

pytestmark = pytest.mark.django_db


def test_figures_per_underlying(history):
    figures = signal_performance(start=datetime(2025, 3, 1, tzinfo=UTC), end=None)

    by_underlying = {row["underlying"]: row for row in figures["by_underlying"]}
    assert by_underlying.keys() == {"NIFTY", "BANKNIFTY"}
    assert (by_underlying["NIFTY"]["count"], by_underlying["NIFTY"]["win_rate"]) == (2, 0.5)
    assert (by_underlying["BANKNIFTY"]["count"], by_underlying["BANKNIFTY"]["win_rate"]) == (1, 1.0)


def test_an_empty_range_has_no_rows(history):
    figures = signal_performance(start=datetime(2030, 1, 1, tzinfo=UTC), end=None)

    assert figures["by_author"] == [] and figures["by_underlying"] == []


def _closed_at(staff_user, data: dict, exit_price: float, closed_at: datetime, **stored) -> None:
    signal = services.signal_create(author=staff_user, data=data)
    services.signal_close(signal=signal, exit_price=exit_price)
    Signal.objects.filter(pk=signal.pk).update(
        created_at=closed_at - timedelta(hours=1), closed_at=closed_at, **stored
    )


@pytest.mark.usefixtures("option_master")
def test_rupees_by_ist_day_of_the_close(staff_user):
    """18:29 UTC is 23:59 IST, 18:30 UTC the next IST day."""
    _closed_at(staff_user, signal_data(), 130.0, datetime(2025, 3, 3, 18, 29, tzinfo=UTC))
    _closed_at(staff_user, sell_data(), 100.0, datetime(2025, 3, 3, 18, 30, tzinfo=UTC))

    figures = signal_performance(start=None, end=None, period="day")

    # BUY 2 lots x 75, +10: 1,500; SELL 2 lots x 35, 120 -> 100: +20 x 70 = 1,400
    assert [(row["period_start"], row["total_rupees"]) for row in figures["by_period"]] == [
        (date(2025, 3, 3), 1500.0),
        (date(2025, 3, 4), 1400.0),
    ]


@pytest.mark.usefixtures("option_master")
def test_weeks_start_on_monday_ist(staff_user):
    sunday_night_ist = datetime(2025, 3, 9, 18, 0, tzinfo=UTC)  # 23:30 IST, Sunday 9 March
    _closed_at(staff_user, signal_data(), 110.0, sunday_night_ist)
    _closed_at(staff_user, signal_data(), 125.0, sunday_night_ist + timedelta(hours=1))

    weeks = signal_performance(start=None, end=None, period="week")["by_period"]

    assert [(row["period_start"], row["count"], row["wins"]) for row in weeks] == [
        (date(2025, 3, 3), 1, 0),
        (date(2025, 3, 10), 1, 1),
    ]


@pytest.mark.usefixtures("option_master")
def test_a_signal_without_a_lot_size_counts_one_unit_a_lot(staff_user):
    """A migrated signal that matched no contract: its 2 count as 2 units."""
    unmatched = {"instrument": None, "token": "", "exchange": "", "lot_size": None}
    _closed_at(staff_user, signal_data(), 135.0, datetime(2025, 3, 3, 6, tzinfo=UTC), **unmatched)

    [row] = signal_performance(start=None, end=None)["by_underlying"]

    assert (row["total_points"], row["total_rupees"]) == (15.0, 30.0)
