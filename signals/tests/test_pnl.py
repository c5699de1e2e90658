"""Unrealised P&L at the option's last price, per lot and for the whole signal, against
figures worked out by hand. Points are per unit: BUY last - entry, SELL entry - last."""

from datetime import UTC, datetime

import pytest

from signals.models import Signal, Status
from signals.pnl import NO_PRICE, NOT_ACTIVE, Quote, pnl_at, signal_unrealised

AT = datetime(2025, 3, 3, 5, 11, tzinfo=UTC)  # 10:41 IST


@pytest.mark.parametrize(
    ("case", "signal_type", "entry", "last", "lots", "lot_size", "per_lot", "total"),
    [
        # NIFTY 24000 CE bought at 120, now 131.5; 2 lots of 75:
        # +11.5 a unit, 11.5 x 75 = 862.5 a lot, x 2 = 1,725; 11.5 / 120 = 9.5833%
        ("BUY CE, gaining", "BUY", 120.0, 131.5, 2, 75, (11.5, 862.5, 9.5833), (23.0, 1725.0)),
        # the same call at 104.25: -15.75 a unit, -1,181.25 a lot, -2,362.50 for 2; -13.125%
        (
            "BUY CE, losing",
            "BUY",
            120.0,
            104.25,
            2,
            75,
            (-15.75, -1181.25, -13.125),
            (-31.5, -2362.5),
        ),
        # BANKNIFTY 52000 PE bought at 310, now 352.4; 3 lots of 35:
        # +42.4, 42.4 x 35 = 1,484 a lot, x 3 = 4,452; 42.4 / 310 = 13.6774%
        ("BUY PE", "BUY", 310.0, 352.4, 3, 35, (42.4, 1484.0, 13.6774), (127.2, 4452.0)),
        # SENSEX 80000 CE sold at 250, now 231; 1 lot of 20: +19, 380; 7.6%
        ("SELL CE, gaining", "SELL", 250.0, 231.0, 1, 20, (19.0, 380.0, 7.6), (19.0, 380.0)),
        # BANKNIFTY 52000 PE sold at 120, now 126.7; 4 lots of 35:
        # -6.7, -234.5 a lot, -938 for 4; -6.7 / 120 = -5.5833%
        ("SELL PE, losing", "SELL", 120.0, 126.7, 4, 35, (-6.7, -234.5, -5.5833), (-26.8, -938.0)),
        # a migrated signal with no lot size counts one unit a lot: 2 x +5 = 10
        ("no lot size", "BUY", 100.0, 105.0, 2, None, (5.0, 5.0, 5.0), (10.0, 10.0)),
    ],
)
def test_pnl_per_lot_and_for_the_signal(
    case, signal_type, entry, last, lots, lot_size, per_lot, total
):
    pnl = pnl_at(
        signal_type=signal_type, entry_price=entry, price=last, quantity=lots, lot_size=lot_size
    )

    points, rupees, percent = per_lot
    assert pnl["per_lot"] == pytest.approx({"points": points, "rupees": rupees, "percent": percent})
    total_points, total_rupees = total
    assert pnl["total"] == pytest.approx(
        {"points": total_points, "rupees": total_rupees, "percent": percent}
    )


def _signal(**fields) -> Signal:
    values = {
        "signal_type": "SELL", "entry_price": 120.0, "quantity": 4, "lot_size": 35,
        "status": Status.ACTIVE, **fields,
    }  # fmt: skip
    return Signal(**values)


def test_an_active_signal_carries_the_price_its_time_and_the_pnl():
    live = signal_unrealised(_signal(), Quote(126.7, AT))

    assert (live["last_price"], live["last_price_at"], live["unrealised_pnl_reason"]) == (
        126.7,
        AT,
        None,
    )
    assert live["unrealised_pnl"]["total"]["rupees"] == -938.0


def test_without_a_price_the_pnl_is_null_and_says_why():
    live = signal_unrealised(_signal(), None)

    assert (live["last_price"], live["unrealised_pnl"], live["unrealised_pnl_reason"]) == (
        None,
        None,
        NO_PRICE,
    )


def test_a_closed_signal_has_no_unrealised_pnl():
    live = signal_unrealised(_signal(status=Status.COMPLETED), Quote(126.7, AT))

    assert (live["last_price"], live["unrealised_pnl"], live["unrealised_pnl_reason"]) == (
        None,
        None,
        NOT_ACTIVE,
    )
