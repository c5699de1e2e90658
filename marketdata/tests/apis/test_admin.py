"""The marketdata admin, as staff use it: ticks (read-only), instruments and market sessions."""

import pytest

from marketdata.models import MarketData, MarketSession
from marketdata.tests.conftest import make_ticks, store

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("market_clock")
@pytest.mark.parametrize(
    "query",
    ["", "?symbol=NIFTY", "?data_quality__exact=GOOD&is_realtime__exact=1", "?q=99926000",
     "?received_at__year=2025&received_at__month=1", "?source__exact=angelone"],
)  # fmt: skip
def test_staff_browse_ticks_with_filters_search_and_dates(admin_client, query):
    store(make_ticks(3))

    response = admin_client.get(f"/admin/marketdata/marketdata/{query}")

    assert response.status_code == 200
    assert b"NIFTY" in response.content


@pytest.mark.usefixtures("market_clock")
def test_ticks_are_read_only_in_admin(admin_client):
    store(make_ticks(1))
    tick = MarketData.objects.get()

    assert admin_client.get("/admin/marketdata/marketdata/add/").status_code == 403
    page = admin_client.get(f"/admin/marketdata/marketdata/{tick.pk}/change/")
    assert page.status_code == 200 and b'name="ltpc"' not in page.content


def test_instruments_are_searchable_in_admin(admin_client):
    response = admin_client.get("/admin/marketdata/instrument/?q=SENSEX")

    assert response.status_code == 200
    assert b"99919000" in response.content


def test_staff_add_a_special_session_in_admin(admin_client):
    response = admin_client.post(
        "/admin/marketdata/marketsession/add/",
        {"date": "2025-10-21", "exchange": "NSE", "kind": "SPECIAL", "opens_at": "13:45",
         "closes_at": "14:45", "note": "Muhurat trading"},
    )  # fmt: skip

    assert response.status_code == 302
    assert MarketSession.objects.get().note == "Muhurat trading"


def test_a_special_session_without_hours_is_refused_in_admin(admin_client):
    response = admin_client.post(
        "/admin/marketdata/marketsession/add/",
        {"date": "2025-10-21", "exchange": "NSE", "kind": "SPECIAL", "note": "Muhurat"},
    )

    assert response.status_code == 200
    assert b"a special session needs opens_at before closes_at" in response.content
    assert not MarketSession.objects.exists()
