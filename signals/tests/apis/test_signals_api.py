"""The /api/v1/signals/ API: rules as 400s, the option from the master, edits, filters,
ordering, pagination (who may: test_signals_permissions.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from signals.models import Signal
from signals.tests.helpers import OPTION, sell_data, signal_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("option_master")]

BASE = "/api/v1/signals/"


def detail(signal: Signal, suffix: str = "") -> str:
    return f"{BASE}{signal.pk}{suffix}"


# --- Staff writes ------------------------------------------------------------------------


def test_staff_publish_a_signal_authored_by_themselves(staff_client, staff_user, user):
    response = staff_client.post(
        BASE, {**signal_data(), "user_id": user.pk, "status": "COMPLETED"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["user_id"] == staff_user.pk and body["author_name"] == "Desk"
    assert body["status"] == "ACTIVE" and body["underlying"] == "NIFTY"
    assert Signal.objects.get(pk=body["id"]).user == staff_user


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"entry_price": -1}, "entry_price"),
        ({"stop_loss": 125}, "stop_loss"),
        ({"target_price": 110}, "target_price"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": "many"}, "quantity"),
        ({"confidence": 101}, "confidence"),
        ({"option_type": "XE"}, "option_type"),
        ({"signal_type": "HOLD"}, "signal_type"),
        ({"expiry": "not-a-date"}, "expiry"),
    ],
)
def test_each_rule_violation_is_a_400_naming_the_field(staff_client, overrides, field):
    response = staff_client.post(BASE, signal_data(**overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Signal.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "length"),
    [("symbol", 65), ("underlying", 17), ("option_type", 3), ("signal_type", 5), ("notes", 2001)],
)
def test_every_string_field_has_a_maximum_length(staff_client, field, length):
    response = staff_client.post(BASE, signal_data(**{field: "N" * length}), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_missing_required_fields_are_named(staff_client):
    response = staff_client.post(BASE, {"symbol": OPTION}, format="json")

    assert response.status_code == 400
    assert {"entry_price", "quantity", "confidence"} <= response.json()["errors"].keys()


# --- The option, from the instrument master -----------------------------------------------


def test_a_signal_published_by_symbol_carries_the_masters_copies(staff_client, option_master):
    response = staff_client.post(BASE, signal_data(quantity=3), format="json")

    assert response.status_code == 201
    body = response.json()
    contract = option_master[OPTION]
    assert (body["token"], body["exchange"], body["lot_size"]) == (contract.token, "NFO", 75)
    assert (body["strike"], body["expiry"]) == (24000.0, contract.expiry.isoformat())
    assert (body["option_type"], body["quantity"], body["instrument_matched"]) == ("CE", 3, True)


def test_a_signal_published_by_underlying_expiry_strike_and_type(staff_client, option_master):
    contract = option_master["BANKNIFTY25DEC52000PE"]
    trade = {k: v for k, v in sell_data().items() if k != "symbol"}
    named = {"underlying": "BANKNIFTY", "expiry": contract.expiry.isoformat(), "strike": 52000}
    data = {**trade, **named, "option_type": "PE"}

    response = staff_client.post(BASE, data, format="json")

    assert response.status_code == 201, response.json()
    assert (response.json()["symbol"], response.json()["lot_size"]) == (contract.symbol, 35)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol": "NIFTY25DEC99000CE"}, "symbol"),
        ({"symbol": "NIFTY"}, "symbol"),
        ({"strike": 25000}, "strike"),
        ({"option_type": "PE"}, "option_type"),
    ],
)
def test_an_option_the_master_does_not_offer_is_a_400_naming_the_field(
    staff_client, overrides, field
):
    response = staff_client.post(BASE, signal_data(**overrides), format="json")

    assert response.status_code == 400
    assert response.json()["errors"].keys() == {field}
    assert Signal.objects.count() == 0


def test_a_signal_that_matched_no_contract_is_flagged(user_client, staff_user, active_signal):
    unmatched = Signal.objects.create(
        user=staff_user, symbol="NIFTY25DEC26000CE", underlying="NIFTY", option_type="CE",
        signal_type="BUY", entry_price=120.0, target_price=150.0, stop_loss=100.0, quantity=1,
        confidence=70,
    )  # fmt: skip

    flagged = user_client.get(detail(unmatched)).json()
    listed = {row["id"]: row for row in user_client.get(BASE).json()["results"]}

    assert (flagged["instrument_matched"], flagged["token"], flagged["lot_size"]) == (
        False,
        "",
        None,
    )
    assert listed[active_signal.pk]["instrument_matched"] is True
    assert listed[unmatched.pk]["instrument_matched"] is False


def test_staff_edit_an_active_signal(staff_client, active_signal):
    response = staff_client.patch(
        detail(active_signal), {"target_price": 160, "notes": "trail"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["target_price"], response.json()["notes"]) == (160.0, "trail")


def test_an_edit_breaking_the_levels_is_a_400(staff_client, active_signal):
    response = staff_client.patch(detail(active_signal), {"target_price": 119}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"].keys() == {"target_price"}


def test_close_records_exit_price_and_manual_outcome(staff_client, active_signal):
    response = staff_client.post(
        detail(active_signal, "/close"), {"exit_price": 135.5}, format="json"
    )

    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["outcome"], body["exit_price"], body["points"]) == (
        "COMPLETED",
        "MANUAL",
        135.5,
        15.5,
    )
    assert body["closed_at"] is not None


@pytest.mark.parametrize("body", [{}, {"exit_price": "abc"}, {"exit_price": 0}])
def test_close_without_a_valid_exit_price_is_a_400(staff_client, active_signal, body):
    response = staff_client.post(detail(active_signal, "/close"), body, format="json")

    assert response.status_code == 400
    assert "exit_price" in response.json()["errors"]


def test_cancel_then_cancel_again_is_a_400_naming_status(staff_client, active_signal):
    assert staff_client.post(detail(active_signal, "/cancel")).json()["status"] == "CANCELLED"

    again = staff_client.post(detail(active_signal, "/cancel"))
    closing = staff_client.post(detail(active_signal, "/close"), {"exit_price": 130}, format="json")

    assert again.status_code == closing.status_code == 400
    assert "status" in again.json()["errors"] and "status" in closing.json()["errors"]


def test_status_moves_through_patch_follow_the_same_rules(staff_client, active_signal):
    cancelled = staff_client.patch(detail(active_signal), {"status": "CANCELLED"}, format="json")
    reopened = staff_client.patch(detail(active_signal), {"status": "ACTIVE"}, format="json")

    assert cancelled.json()["status"] == "CANCELLED"
    assert reopened.status_code == 400 and "status" in reopened.json()["errors"]


def test_a_closed_signal_takes_only_note_edits(staff_client, active_signal):
    staff_client.post(detail(active_signal, "/close"), {"exit_price": 130}, format="json")

    refused = staff_client.patch(
        detail(active_signal), {"quantity": 10, "notes": "late"}, format="json"
    )
    noted = staff_client.patch(detail(active_signal), {"notes": "Booked early"}, format="json")

    assert refused.status_code == 400 and refused.json()["errors"].keys() == {"quantity"}
    assert noted.status_code == 200 and noted.json()["notes"] == "Booked early"


def test_unknown_signal_is_a_404(staff_client, user_client):
    assert user_client.get(f"{BASE}999999").status_code == 404
    assert staff_client.post(f"{BASE}999999/cancel").status_code == 404


# --- Filters, ordering, pagination -------------------------------------------------------


@pytest.fixture
def three_signals(staff_user, make_signal):
    buy = make_signal()
    sell = make_signal(
        **{k: v for k, v in sell_data().items() if k != "symbol"}, symbol="BANKNIFTY25DEC52000PE"
    )
    old = make_signal(symbol="FINNIFTY25DEC23000CE", confidence=90)
    Signal.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    return buy, sell, old


def ids(response) -> list:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("underlying=BANKNIFTY", [1]),
        ("signal_type=BUY", [0, 2]),
        ("option_type=PE", [1]),
        ("symbol=nifty25dec24000ce", [0]),
        ("status=ACTIVE", [0, 1, 2]),
        ("status=CANCELLED", []),
    ],
)
def test_filters_narrow_the_list(user_client, three_signals, query, expected):
    response = user_client.get(f"{BASE}?{query}&ordering=created_at")

    wanted = {three_signals[i].pk for i in expected}
    assert set(ids(response)) == wanted


def test_created_range_filters_by_publication_time(user_client, three_signals):
    since = (timezone.now() - timedelta(days=1)).isoformat()

    response = user_client.get(BASE, {"created_from": since})

    assert set(ids(response)) == {three_signals[0].pk, three_signals[1].pk}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=DONE", "status"),
        ("underlying=DOW", "underlying"),
        ("option_type=XX", "option_type"),
        ("signal_type=HOLD", "signal_type"),
        ("created_from=yesterday", "created_from"),
        ("created_from=2025-02-01T00:00:00Z&created_to=2025-01-01T00:00:00Z", "created_to"),
        ("ordering=password", "ordering"),
        ("page_size=0", "page_size"),
        ("page_size=1000", "page_size"),
        ("page=abc", "page"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_them(user_client, query, parameter):
    response = user_client.get(f"{BASE}?{query}")

    assert response.status_code == 400
    assert parameter in response.json()["errors"]


def test_ordering_by_confidence(user_client, three_signals):
    response = user_client.get(BASE, {"ordering": "-confidence"})

    assert ids(response)[0] == three_signals[2].pk


def test_the_newest_signals_come_first_by_default(user_client, three_signals):
    assert ids(user_client.get(BASE))[-1] == three_signals[2].pk


def test_pages_hold_page_size_signals_and_link_to_the_next(user_client, three_signals):
    first = user_client.get(BASE, {"page_size": 2}).json()
    second = user_client.get(BASE, {"page_size": 2, "page": 2}).json()

    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    assert len(second["results"]) == 1 and second["next"] is None
    assert {r["id"] for r in first["results"] + second["results"]} == {s.pk for s in three_signals}
