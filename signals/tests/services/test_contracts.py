"""A signal is published on an option contract of the instrument master (signals/contracts.py):
named by its symbol, or by underlying, expiry, strike and option type; live, an option, on one
of the six indices; its values copied from the master. Existing signals are tied to the master
by a data migration, and those matching nothing are flagged."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.apps import apps

from accounts.models import User
from marketdata.instruments import instruments_sync
from marketdata.market_calendar import IST
from marketdata.models import Instrument
from signals import contracts, selectors, services
from signals.models import Signal, Status
from signals.tests.helpers import OPTION, option_contract_create, signal_data, today_ist
from trading_signals.errors import ApplicationError

pytestmark = pytest.mark.django_db


def errors_of(author: User, **data) -> dict[str, list[str]]:
    with pytest.raises(ApplicationError) as caught:
        services.signal_create(author=author, data=signal_data(**data))
    return caught.value.errors


def terms(contract: Instrument, **overrides) -> dict:
    """The option named without its symbol."""
    named = {
        "symbol": None,
        "underlying": contract.name,
        "expiry": contract.expiry,
        "strike": contract.strike,
        "option_type": contract.symbol[-2:],
    }
    return {**named, **overrides}


@pytest.fixture
def contract() -> Instrument:
    return option_contract_create(OPTION, token="43001")


def test_a_signal_named_by_symbol_copies_its_contract_from_the_master(staff_user, contract):
    signal = services.signal_create(author=staff_user, data=signal_data(symbol=OPTION.lower()))

    assert signal.instrument == contract
    assert (signal.token, signal.exchange, signal.lot_size) == ("43001", "NFO", 75)
    assert (signal.symbol, signal.underlying, signal.option_type) == (OPTION, "NIFTY", "CE")
    assert (signal.strike, signal.expiry) == (24000.0, contract.expiry)
    assert signal.instrument_matched


def test_a_signal_named_by_underlying_expiry_strike_and_type_finds_its_contract(
    staff_user, contract
):
    option_contract_create("NIFTY25DEC24000PE")  # the put at the same strike and expiry

    signal = services.signal_create(
        author=staff_user, data=signal_data(**terms(contract, strike=24000, underlying="nifty"))
    )

    assert (signal.instrument, signal.symbol, signal.option_type) == (contract, OPTION, "CE")


def test_an_unknown_symbol_is_refused_naming_symbol(staff_user, contract):
    errors = errors_of(staff_user, symbol="NIFTY25DEC99000CE")

    assert errors.keys() == {"symbol"}
    assert "No contract NIFTY25DEC99000CE in the instrument master" in errors["symbol"][0]


def test_an_expired_contract_is_refused(staff_user):
    option_contract_create(OPTION, expiry=today_ist() - timedelta(days=1))

    assert errors_of(staff_user).keys() == {"symbol"}


def test_a_contract_expiring_today_is_refused_from_1530_ist(staff_user):
    option_contract_create(OPTION, expiry=today_ist())
    close = datetime.combine(today_ist(), time(15, 30), tzinfo=IST)

    with time_machine.travel(close - timedelta(seconds=1), tick=False):
        assert services.signal_create(author=staff_user, data=signal_data()).instrument_matched
    with time_machine.travel(close, tick=False):
        errors = errors_of(staff_user)
    assert errors == {"symbol": [f"{OPTION} expired at 15:30 IST on {today_ist().isoformat()}."]}


@pytest.mark.parametrize("symbol", ["NIFTY", "NIFTY25DECFUT"])
def test_an_index_or_a_future_is_not_an_option(staff_user, symbol):
    if symbol.endswith("FUT"):
        Instrument.objects.create(
            token="43100", symbol=symbol, name="NIFTY", exchange="NFO", exchange_type=2,
            instrument_type="FUTIDX", expiry=today_ist() + timedelta(days=20), lot_size=75,
        )  # fmt: skip

    errors = errors_of(staff_user, symbol=symbol)

    assert errors.keys() == {"symbol"} and "is not an option contract" in errors["symbol"][0]


def test_a_stock_option_is_refused_naming_underlying(staff_user):
    option_contract_create("RELIANCE25DEC3000CE", instrument_type="OPTSTK", name="RELIANCE")

    assert errors_of(staff_user, symbol="RELIANCE25DEC3000CE").keys() == {"underlying"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("strike", lambda contract: 24500.0),
        ("option_type", lambda contract: "PE"),
        ("underlying", lambda contract: "BANKNIFTY"),
        ("expiry", lambda contract: contract.expiry + timedelta(days=7)),
    ],
)
def test_a_term_contradicting_the_symbols_contract_is_refused_naming_it(
    staff_user, contract, field, value
):
    errors = errors_of(staff_user, **{field: value(contract)})

    listed = contracts.contract_copies(contract)[field]
    assert errors == {field: [f"{OPTION} has {field} {listed}: send that, or leave it out."]}


def test_terms_that_agree_with_the_symbol_are_accepted(staff_user, contract):
    data = signal_data(**terms(contract, symbol=OPTION))

    assert services.signal_create(author=staff_user, data=data).instrument == contract


def test_without_a_symbol_every_missing_term_is_named(staff_user, contract):
    assert errors_of(staff_user, **terms(contract, strike=None, option_type="")) == {
        "strike": ["Required without a symbol."],
        "option_type": ["Required without a symbol."],
    }
    nothing = errors_of(staff_user, symbol=None)
    assert nothing == {"symbol": [contracts.NO_CONTRACT_NAMED]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("strike", lambda contract: 99000.0),
        ("strike", lambda contract: -5.0),
        ("expiry", lambda contract: contract.expiry + timedelta(days=7)),
        ("expiry", lambda contract: today_ist() - timedelta(days=1)),
        ("underlying", lambda contract: "DOW"),
        ("option_type", lambda contract: "XX"),
    ],
)
def test_terms_that_name_no_live_contract_are_refused_naming_the_term(
    staff_user, contract, field, value
):
    errors = errors_of(staff_user, **terms(contract, **{field: value(contract)}))

    assert errors.keys() == {field}


def test_a_retired_contract_leaves_its_signals_working_with_their_copies(active_signal):
    copies = (active_signal.token, active_signal.exchange, active_signal.lot_size)

    # The daily sync the day after the contract expired (a master that no longer lists it).
    result = instruments_sync(records=[], today=active_signal.expiry + timedelta(days=1))

    assert result.removed >= 1 and not Instrument.objects.filter(symbol=OPTION).exists()

    active_signal.refresh_from_db()
    assert active_signal.instrument is None
    assert (active_signal.token, active_signal.exchange, active_signal.lot_size) == copies
    assert copies[1:] == ("NFO", 75) and active_signal.instrument_matched
    closed = services.signal_close(signal=active_signal, exit_price=140.0)
    assert closed.status == Status.COMPLETED


# --- The demand provider ------------------------------------------------------------------


def test_the_feed_is_asked_for_the_contracts_of_active_signals_only(make_signal, staff_user):
    make_signal()
    closed = make_signal(symbol="NIFTY25DEC24500CE")
    services.signal_cancel(signal=closed)
    legacy_signal(staff_user, "NIFTY25DEC26000CE")  # matched nothing

    assert selectors.signal_options_demanded() == [OPTION]


# --- The data migration -------------------------------------------------------------------


def legacy_signal(author: User, symbol: str, **fields) -> Signal:
    """A signal as it was stored before signals were tied to the master: no copies."""
    values = {
        "user": author, "symbol": symbol, "underlying": "NIFTY", "option_type": "CE",
        "signal_type": "BUY", "entry_price": 120.0, "target_price": 150.0, "stop_loss": 100.0,
        "quantity": 75, "confidence": 70, **fields,
    }  # fmt: skip
    return Signal.objects.create(**values)


def test_the_migration_ties_existing_signals_to_their_contracts_and_flags_the_rest(staff_user):
    contract = option_contract_create(OPTION, token="43001")
    matched = legacy_signal(staff_user, OPTION)
    dated = legacy_signal(staff_user, OPTION, strike=24000.0, expiry=today_ist())
    unmatched = legacy_signal(staff_user, "NIFTY25DEC26000CE")
    index = legacy_signal(staff_user, "NIFTY")  # the index: in the master, but no option

    contracts.signals_link_to_master(apps, None)
    contracts.signals_link_to_master(apps, None)  # running again changes nothing

    for signal in (matched, dated, unmatched, index):
        signal.refresh_from_db()
    assert matched.instrument == contract and matched.instrument_matched
    assert (matched.token, matched.exchange, matched.lot_size) == ("43001", "NFO", 75)
    assert (matched.strike, matched.expiry) == (24000.0, contract.expiry)
    assert dated.instrument == contract and dated.expiry == today_ist()  # its own is kept
    for flagged in (unmatched, index):
        assert flagged.instrument is None and not flagged.instrument_matched
        assert (flagged.token, flagged.exchange, flagged.lot_size) == ("", "", None)
    assert {s.pk for s in Signal.objects.filter(token="")} == {unmatched.pk, index.pk}


def test_an_unmatched_signal_keeps_working(staff_user):
    signal = legacy_signal(staff_user, "NIFTY25DEC26000CE")

    edited = services.signal_update(signal=signal, data={"target_price": 160.0})
    closed = services.signal_close(signal=edited, exit_price=130.0)

    assert (closed.status, closed.points, closed.instrument_matched) == ("COMPLETED", 10.0, False)
