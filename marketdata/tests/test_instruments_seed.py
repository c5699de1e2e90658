"""The six streamed indices that the data migration seeds."""

import pytest

from marketdata.models import Instrument

pytestmark = pytest.mark.django_db


def test_the_six_indices_are_seeded_with_the_corrected_tokens():
    rows = Instrument.objects.filter(subscribed=True).values_list(
        "symbol", "token", "exchange", "exchange_type"
    )

    assert sorted(rows) == [
        ("BANKEX", "99919012", "BSE", 3),
        ("BANKNIFTY", "99926009", "NSE", 1),
        ("FINNIFTY", "99926037", "NSE", 1),
        ("MIDCPNIFTY", "99926074", "NSE", 1),
        ("NIFTY", "99926000", "NSE", 1),
        ("SENSEX", "99919000", "BSE", 3),
    ]
    assert not Instrument.objects.filter(token="99926017").exists()  # India VIX, not SENSEX
