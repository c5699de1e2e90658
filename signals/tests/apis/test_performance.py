"""GET /api/v1/signals/performance: the range as query parameters, and the figures as JSON.

The figures themselves are the selector's: `signals/tests/selectors/test_performance.py`.
"""

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/v1/signals/performance"


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
        # 2 lots of 75 units: +30 x 150 = 4,500 and -20 x 150 = -3,000
        "average_rupees": 750.0,
        "total_rupees": 1500.0,
        "average_holding_seconds": 7200.0,
    }
    assert (by_author[analyst.pk]["count"], by_author[analyst.pk]["total_points"]) == (1, 30.0)
    assert by_author[analyst.pk]["total_rupees"] == 2100.0  # SELL +30 x 2 lots x 35
    assert by_author[analyst.pk]["average_holding_seconds"] == 1800.0


def test_without_a_range_every_closed_signal_counts(user_client, history):
    body = user_client.get(URL).json()

    assert sum(row["count"] for row in body["by_author"]) == 4
    assert body["from"] is None and body["to"] is None


def test_rupees_by_signal_type_and_by_month(user_client, history):
    body = user_client.get(URL, {"period": "month"}).json()

    by_type = {row["signal_type"]: row["total_rupees"] for row in body["by_signal_type"]}
    # BUY: 4,500 - 3,000; SELL (2 lots x 35): +30 x 70 = 2,100 and +25 x 70 = 1,750
    assert by_type == {"BUY": 1500.0, "SELL": 3850.0}
    by_month = {row["period_start"]: row["total_rupees"] for row in body["by_period"]}
    assert by_month == {"2025-02-01": 1750.0, "2025-03-01": 3600.0}
    assert body["period"] == "month"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"from": "soon"}, "from"),
        ({"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "to"),
        ({"period": "year"}, "period"),
    ],
)
def test_bad_range_is_a_400_naming_the_parameter(user_client, query, parameter):
    response = user_client.get(URL, query)

    assert response.status_code == 400
    assert parameter in response.json()["errors"]
