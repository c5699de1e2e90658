"""GET /api/v1/signals/performance: figures per author and per underlying, over a range."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.models import User
from signals import services
from signals.models import Signal
from signals.tests.helpers import sell_data, signal_data

pytestmark = pytest.mark.django_db

URL = "/api/v1/signals/performance"
DAY = datetime(2025, 3, 3, 4, 0, tzinfo=UTC)


def closed(
    author: User, data: dict, exit_price: float, held: timedelta, at: datetime = DAY
) -> Signal:
    signal = services.signal_create(author=author, data=data)
    services.signal_close(signal=signal, exit_price=exit_price)
    Signal.objects.filter(pk=signal.pk).update(created_at=at, closed_at=at + held)
    return signal


@pytest.fixture
def history(staff_user):
    other = User.objects.create_user("analyst@example.com", "x", name="Analyst", is_staff=True)
    closed(staff_user, signal_data(), 150.0, timedelta(hours=1))  # +30
    closed(staff_user, signal_data(), 100.0, timedelta(hours=3))  # -20
    closed(other, sell_data(), 90.0, timedelta(minutes=30))  # SELL: +30
    closed(other, sell_data(), 95.0, timedelta(hours=1), at=DAY - timedelta(days=30))  # outside
    services.signal_cancel(signal=services.signal_create(author=other, data=sell_data()))
    services.signal_create(author=staff_user, data=signal_data())  # still active
    return staff_user, other


def test_figures_per_author_over_the_range(user_client, history):
    desk, analyst = history

    body = user_client.get(
        URL, {"from": "2025-03-01T00:00:00Z", "to": "2025-03-31T00:00:00Z"}
    ).json()

    by_author = {row["user_id"]: row for row in body["by_author"]}
    assert by_author[desk.pk] == {
        "user_id": desk.pk,
        "author_name": "Desk",
        "count": 2,
        "wins": 1,
        "win_rate": 0.5,
        "average_points": 5.0,
        "total_points": 10.0,
        "average_holding_seconds": 7200.0,
    }
    assert (by_author[analyst.pk]["count"], by_author[analyst.pk]["total_points"]) == (1, 30.0)
    assert by_author[analyst.pk]["average_holding_seconds"] == 1800.0


def test_figures_per_underlying(user_client, history):
    body = user_client.get(URL, {"from": "2025-03-01T00:00:00Z"}).json()

    by_underlying = {row["underlying"]: row for row in body["by_underlying"]}
    assert by_underlying.keys() == {"NIFTY", "BANKNIFTY"}
    assert (by_underlying["NIFTY"]["count"], by_underlying["NIFTY"]["win_rate"]) == (2, 0.5)
    assert (by_underlying["BANKNIFTY"]["count"], by_underlying["BANKNIFTY"]["win_rate"]) == (1, 1.0)


def test_without_a_range_every_closed_signal_counts(user_client, history):
    body = user_client.get(URL).json()

    assert sum(row["count"] for row in body["by_author"]) == 4
    assert body["from"] is None and body["to"] is None


def test_an_empty_range_has_no_rows(user_client, history):
    body = user_client.get(URL, {"from": "2030-01-01T00:00:00Z"}).json()

    assert body["by_author"] == [] and body["by_underlying"] == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"from": "soon"}, "from"),
        ({"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "to"),
    ],
)
def test_bad_range_is_a_400_naming_the_parameter(user_client, query, parameter):
    response = user_client.get(URL, query)

    assert response.status_code == 400
    assert parameter in response.json()["errors"]
