"""The market in the signal admin, as the server renders it: the list's last prices, P&L and
option feed (sortable, filterable with the reason), the forms' market panel and its view,
and times in IST. How a browser shows the pages: signals/tests/browser/."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from accounts.models import User
from conftest import PASSWORD
from marketdata.models import Instrument
from signals import services
from signals.admin import SignalAdmin
from signals.models import Signal
from signals.tests.helpers import (
    OPTION,
    SELL_OPTION,
    dated_option,
    sell_data,
    stored_tick,
    today_ist,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("option_master")]

CHANGELIST = "/admin/signals/signal/"
MARKET = f"{CHANGELIST}market/"


def listed(client: Client, **query) -> list[Signal]:
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def column(name: str) -> str:
    """The changelist's `o` value that sorts by the column `name`, descending."""
    return f"-{SignalAdmin.list_display.index(name) + 1}"


def test_the_list_sorts_active_signals_by_their_unrealised_pnl(admin_client, make_signal):
    now = timezone.now()
    buy, sell = make_signal(), make_signal(**sell_data())
    stored_tick(131.5, now)  # BUY 2 x 75 from 120: +1,725
    stored_tick(90.0, now, symbol=SELL_OPTION)  # SELL 2 x 35 from 120: +30 x 70 = +2,100

    by_pnl = listed(admin_client, o=column("option_pnl"))
    page = admin_client.get(CHANGELIST).content.decode()

    assert by_pnl == [sell, buy]
    assert "+2,100.00" in page and "+1,725.00" in page and "131.50" in page


def test_the_feed_filter_names_why_an_option_is_not_streaming(admin_client, make_signal):
    now = timezone.now()
    streaming, quiet, unmatched = make_signal(), make_signal(), make_signal()
    expired = make_signal(symbol=dated_option(today_ist() + timedelta(days=1)))
    stored_tick(125.0, now - timedelta(minutes=1))
    Signal.objects.filter(pk=quiet.pk).update(symbol=SELL_OPTION)  # whose option never ticked
    Signal.objects.filter(pk=unmatched.pk).update(
        instrument=None, token="", exchange="", lot_size=None
    )
    Signal.objects.filter(pk=expired.pk).update(expiry=today_ist() - timedelta(days=1))

    states = {state: listed(admin_client, feed=state) for state in ("streaming", "no_instrument")}
    states |= {state: listed(admin_client, feed=state) for state in ("expired", "no_recent_tick")}
    page = admin_client.get(CHANGELIST).content.decode()

    assert states == {
        "streaming": [streaming],
        "no_instrument": [unmatched],
        "expired": [expired],
        "no_recent_tick": [quiet],
    }
    assert "Not streaming: no recent tick" in page and "not in the feed&#x27;s demand" in page


def test_the_admin_shows_times_in_ist_and_the_api_in_utc(admin_client, user_client, make_signal):
    """Published at 05:11 UTC: 10:41 IST in the admin, 05:11Z in the API."""
    signal = make_signal()
    Signal.objects.filter(pk=signal.pk).update(created_at=datetime(2025, 3, 3, 5, 11, tzinfo=UTC))

    page = admin_client.get(CHANGELIST).content.decode()
    body = user_client.get(f"/api/v1/signals/{signal.pk}").json()

    assert "March 3, 2025, 10:41 a.m." in page
    assert body["created_at"] == "2025-03-03T05:11:00Z"


def test_the_change_page_shows_the_options_price_beside_the_trade(admin_client, make_signal):
    signal = make_signal()
    stored_tick(131.5, datetime(2025, 3, 3, 5, 11, 7, tzinfo=UTC))

    page = admin_client.get(f"{CHANGELIST}{signal.pk}/change/").content.decode()

    assert 'id="signal-last-price">131.50<' in page
    assert "10:41:07 IST" in page
    assert 'class="level level-target" data-price="150.0"' in page


def test_the_panel_view_takes_the_typed_levels(admin_client):
    option = Instrument.objects.get(symbol=OPTION)
    stored_tick(131.5, timezone.now())

    typed = {"instrument": option.pk, "signal_type": "SELL", "entry_price": "140", "quantity": "3"}
    panel = admin_client.get(MARKET, typed).content.decode()

    # SELL 3 lots of 75 from 140 at 131.5: +8.5 a unit, 637.50 a lot, 1,912.50 in all
    assert "Rs +637.50 (+8.50 pts" in panel and "Rs +1,912.50" in panel
    assert 'class="level level-entry" data-price="140.0"' in panel
    assert "level-target" not in panel  # not typed yet: not drawn


@pytest.mark.parametrize(
    ("query", "field"),
    [({"signal": "x1"}, "signal"), ({"instrument": "999999"}, "instrument")],
)
def test_a_bad_id_is_a_400_naming_it(admin_client, query, field):
    response = admin_client.get(MARKET, query)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_panel_view_is_for_staff_who_may_see_signals(make_signal):
    staff = User.objects.create_user("viewer@example.com", PASSWORD, name="V", is_staff=True)
    client = Client()
    client.force_login(staff)
    signal = make_signal()

    assert client.get(MARKET, {"signal": signal.pk}).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_signal"))
    assert client.get(MARKET, {"signal": signal.pk}).status_code == 200
    assert Client().get(MARKET, {"signal": signal.pk}).status_code == 302  # to the login


def test_staff_who_may_only_add_see_the_pick_of_their_form_but_no_published_signal(make_signal):
    staff = User.objects.create_user("adder@example.com", PASSWORD, name="A", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="add_signal"))
    client = Client()
    client.force_login(staff)
    signal = make_signal()
    option = Instrument.objects.get(symbol=OPTION)

    assert client.get(MARKET, {"instrument": option.pk}).status_code == 200
    assert client.get(MARKET, {"signal": signal.pk}).status_code == 403


def test_a_closed_signal_shows_its_options_price_but_no_unrealised_pnl(admin_client, make_signal):
    signal = make_signal()
    services.signal_close(signal=signal, exit_price=141.0)
    stored_tick(131.5, timezone.now())

    page = admin_client.get(f"{CHANGELIST}{signal.pk}/change/").content.decode()

    assert 'id="signal-last-price">131.50<' in page
    assert "closed: see its exit price" in page and "signal-pnl-total" not in page


def test_the_panel_shows_the_options_iv_and_greeks_as_the_chain_values_them(
    admin_client, user_client
):
    option = Instrument.objects.get(symbol=OPTION)  # NIFTY 24000 CE, 30 days out
    now = timezone.now()
    stored_tick(24_100.0, now, symbol="NIFTY")
    stored_tick(420.0, now)

    panel = admin_client.get(MARKET, {"instrument": option.pk}).content.decode()
    chain = user_client.get(
        "/api/v1/market-data/option-chain/NIFTY", {"expiry": option.expiry.isoformat()}
    ).json()
    call = next(row["CE"] for row in chain["strikes"] if row["strike"] == option.strike)

    assert call["iv"] is not None
    assert f"<dt>IV</dt><dd>{call['iv'] * 100:.2f}%</dd>" in panel
    assert f"<dt>Delta</dt><dd>{call['delta']:.4f}</dd>" in panel
    assert f"<dt>Vega (1% vol)</dt><dd>{call['vega']:.2f}</dd>" in panel


def test_without_a_price_the_panel_says_why_there_are_no_greeks(admin_client):
    option = Instrument.objects.get(symbol=OPTION)

    panel = admin_client.get(MARKET, {"instrument": option.pk}).content.decode()

    assert "IV and Greeks: none (no price)" in panel
