"""Performance figures (`selectors.signal_performance`): per author and per underlying, over a
range of closing times.

How the API takes the range and renders the figures: `signals/tests/apis/test_performance.py`.
"""

from datetime import UTC, datetime

import pytest

from signals.selectors import signal_performance

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
