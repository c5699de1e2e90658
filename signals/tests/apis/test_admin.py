"""Curating signals in Django admin, through the same rules as the API; the option is picked
from the instrument master."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from accounts.models import User
from conftest import PASSWORD
from marketdata.models import Instrument, MarketData
from signals import rules, services
from signals.models import Signal, Status
from signals.tests.helpers import OPTION, option_contract_create, signal_data, today_ist

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("option_master")]

CHANGELIST = "/admin/signals/signal/"
ADD = f"{CHANGELIST}add/"
AUTOCOMPLETE = "/admin/autocomplete/"


def form_body(**overrides) -> dict:
    """The add form: the option picked (its master row's id), then the trade."""
    trade = {k: v for k, v in signal_data().items() if k != "symbol"}
    body = {"instrument": Instrument.objects.get(symbol=OPTION).pk, **trade, "notes": ""}
    return {**body, **overrides}


def change_body(signal: Signal, **overrides) -> dict:
    body = {**form_body(), "status": signal.status, "exit_price": ""}
    return {**body, **overrides}


def form_errors(response) -> dict:
    assert response.status_code == 200, "the form was expected to be shown again with errors"
    return response.context["adminform"].form.errors


def test_adding_sets_the_author_and_status_automatically(admin_client, admin_user):
    response = admin_client.post(ADD, form_body())

    assert response.status_code == 302
    signal = Signal.objects.get()
    assert signal.user == admin_user and signal.status == Status.ACTIVE
    assert (signal.symbol, signal.underlying, signal.lot_size) == (OPTION, "NIFTY", 75)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"stop_loss": 130}, "stop_loss"),
        ({"target_price": 110}, "target_price"),
        ({"confidence": 150}, "confidence"),
        ({"quantity": 0}, "quantity"),
        ({"instrument": ""}, "instrument"),
    ],
)
def test_rule_violations_are_shown_as_form_errors_on_their_field(admin_client, overrides, field):
    errors = form_errors(admin_client.post(ADD, form_body(**overrides)))

    assert field in errors
    assert Signal.objects.count() == 0


def test_the_add_form_shows_the_services_message(admin_client):
    errors = form_errors(admin_client.post(ADD, form_body(stop_loss=125)))

    assert errors["stop_loss"] == ["For a BUY, stop_loss must be below entry_price."]


def test_status_change_to_completed_needs_an_exit_price(admin_client, active_signal):
    url = f"{CHANGELIST}{active_signal.pk}/change/"

    errors = form_errors(admin_client.post(url, change_body(active_signal, status="COMPLETED")))
    assert "exit_price" in errors

    response = admin_client.post(
        url, change_body(active_signal, status="COMPLETED", exit_price=141)
    )
    assert response.status_code == 302
    active_signal.refresh_from_db()
    assert (active_signal.status, active_signal.outcome, active_signal.exit_price) == (
        "COMPLETED",
        "MANUAL",
        141.0,
    )


def test_a_closed_signal_only_takes_note_edits_in_admin(admin_client, active_signal):
    cancelled = services.signal_cancel(signal=active_signal)
    url = f"{CHANGELIST}{cancelled.pk}/change/"

    errors = form_errors(admin_client.post(url, change_body(cancelled, entry_price=119)))
    assert errors["entry_price"] == [rules.CLOSED_READ_ONLY]

    reopen = form_errors(admin_client.post(url, change_body(cancelled, status="ACTIVE")))
    assert "status" in reopen

    response = admin_client.post(url, change_body(cancelled, notes="RBI policy day"))
    assert response.status_code == 302
    cancelled.refresh_from_db()
    assert (cancelled.notes, cancelled.status) == ("RBI policy day", "CANCELLED")


def test_timestamps_and_author_are_read_only(admin_client, active_signal):
    page = admin_client.get(f"{CHANGELIST}{active_signal.pk}/change/").content.decode()

    for field in ("created_at", "updated_at", "closed_at", "user", "outcome"):
        assert f'name="{field}"' not in page
    assert 'name="notes"' in page


def test_the_option_of_a_published_signal_is_shown_not_edited(admin_client, active_signal):
    page = admin_client.get(f"{CHANGELIST}{active_signal.pk}/change/").content.decode()

    for field in ("instrument", "symbol", "strike", "expiry", "token", "lot_size"):
        assert f'name="{field}"' not in page
    assert OPTION in page and active_signal.token in page


def test_the_list_shows_a_status_badge_and_filters(admin_client, make_signal):
    active, cancelled = make_signal(), make_signal(symbol="SENSEX25DEC80000CE")
    services.signal_cancel(signal=cancelled)

    page = admin_client.get(CHANGELIST).content.decode()
    assert "background:#1d72b8" in page and "background:#757575" in page

    filtered = admin_client.get(CHANGELIST, {"status__exact": "CANCELLED"})
    assert list(filtered.context["cl"].result_list) == [cancelled]
    by_underlying = admin_client.get(CHANGELIST, {"underlying__exact": "NIFTY"})
    assert list(by_underlying.context["cl"].result_list) == [active]
    searched = admin_client.get(CHANGELIST, {"q": "SENSEX"})
    assert list(searched.context["cl"].result_list) == [cancelled]


# --- Picking the option ------------------------------------------------------------------


def test_the_add_form_searches_the_master_with_autocomplete(admin_client):
    page = admin_client.get(ADD).content.decode()

    assert 'name="instrument"' in page and "admin-autocomplete" in page
    assert 'name="symbol"' not in page and 'name="strike"' not in page


def options_found(client: Client, term: str) -> list[str]:
    query = {
        "term": term,
        "app_label": "signals",
        "model_name": "signal",
        "field_name": "instrument",
    }
    response = client.get(AUTOCOMPLETE, query)
    assert response.status_code == 200, response.content
    return sorted(result["text"].split(" ")[0] for result in response.json()["results"])


def test_the_option_search_offers_only_live_option_contracts(staff_user):
    """Staff with the signals permissions (and view_instrument) search as they type."""
    option_contract_create("NIFTY25NOV24000CE", expiry=today_ist() - timedelta(days=1))
    option_contract_create("RELIANCE25DEC3000CE", instrument_type="OPTSTK", name="RELIANCE")
    Instrument.objects.create(
        token="43100", symbol="NIFTY25DECFUT", name="NIFTY", exchange="NFO", exchange_type=2,
        instrument_type="FUTIDX", expiry=today_ist() + timedelta(days=20), lot_size=75,
    )  # fmt: skip
    client = Client()
    client.force_login(staff_user)

    # Not the expired NIFTY25NOV24000CE, nor the future NIFTY25DECFUT.
    assert options_found(client, "nifty25") == [
        "BANKNIFTY25DEC52000PE", "FINNIFTY25DEC23000CE", "NIFTY25DEC24000CE", "NIFTY25DEC24500CE",
    ]  # fmt: skip
    assert options_found(client, "24000") == ["NIFTY25DEC24000CE"]
    assert options_found(client, "RELIANCE") == []


def test_an_expired_option_posted_to_the_add_form_is_refused(admin_client):
    expired = option_contract_create("NIFTY25NOV24000CE", expiry=today_ist() - timedelta(days=1))

    errors = form_errors(admin_client.post(ADD, form_body(instrument=expired.pk)))

    assert "instrument" in errors
    assert Signal.objects.count() == 0


def test_the_list_filters_signals_that_matched_no_contract(admin_client, make_signal, staff_user):
    matched = make_signal()
    unmatched = Signal.objects.create(
        user=staff_user, symbol="NIFTY25DEC26000CE", underlying="NIFTY", option_type="CE",
        signal_type="BUY", entry_price=120.0, target_price=150.0, stop_loss=100.0, quantity=1,
        confidence=70,
    )  # fmt: skip

    flagged = admin_client.get(CHANGELIST, {"instrument_matched": "no"})
    linked = admin_client.get(CHANGELIST, {"instrument_matched": "yes"})

    assert list(flagged.context["cl"].result_list) == [unmatched]
    assert list(linked.context["cl"].result_list) == [matched]


def bulk(client: Client, action: str, signals: list[Signal]):
    body = {"action": action, "_selected_action": [s.pk for s in signals]}
    return client.post(CHANGELIST, body, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_bulk_cancel_cancels_active_and_reports_the_rest(admin_client, make_signal):
    first, second, done = make_signal(), make_signal(), make_signal()
    services.signal_close(signal=done, exit_price=130)

    response = bulk(admin_client, "cancel_selected", [first, second, done])

    statuses = dict(Signal.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "CANCELLED", second.pk: "CANCELLED", done.pk: "COMPLETED"}
    assert "Cancelled 2 signal(s)." in messages_of(response)
    assert any("Not cancelled" in m for m in messages_of(response))


def test_bulk_close_uses_each_options_latest_stored_price(admin_client, make_signal):
    priced, unpriced = make_signal(), make_signal(symbol="NIFTY25DEC24500CE")
    now = timezone.now()
    for price, age in ((128.0, 5), (131.5, 1)):
        MarketData.objects.create(
            tk="45678",
            token="45678",
            symbol=OPTION,
            ltpc=price,
            received_at=now - timedelta(seconds=age),
            source="angelone",
            data_quality="GOOD",
        )

    response = bulk(admin_client, "close_selected_at_latest_price", [priced, unpriced])

    priced.refresh_from_db()
    unpriced.refresh_from_db()
    assert (priced.status, priced.outcome, priced.exit_price) == ("COMPLETED", "MANUAL", 131.5)
    assert unpriced.status == Status.ACTIVE
    assert any("no stored price for NIFTY25DEC24500CE" in m for m in messages_of(response))


def test_bulk_actions_need_the_change_permission(make_signal):
    """A staff user who may only view signals sees no bulk action and cannot post one."""
    viewer = User.objects.create_user("viewer@example.com", PASSWORD, name="V", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_signal"))
    client = Client()
    client.force_login(viewer)
    signal = make_signal()

    page = client.get(CHANGELIST)
    response = bulk(client, "cancel_selected", [signal])

    assert page.status_code == 200 and "cancel_selected" not in page.content.decode()
    assert response.status_code == 200
    signal.refresh_from_db()
    assert signal.status == Status.ACTIVE
