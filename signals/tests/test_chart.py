"""The admin's chart, drawn as SVG: the option's closes, its underlying's, and the levels."""

import re
from datetime import date, datetime

from marketdata.market_calendar import IST
from marketdata.selectors import Candle
from signals.chart import chart_svg

DAY = date(2025, 3, 3)
LEVELS = {"entry_price": 120.0, "target_price": 150.0, "stop_loss": 100.0}


def _candles(start: float, minutes: int, step: float) -> list[Candle]:
    return [
        Candle(datetime(2025, 3, 3, 10, m, tzinfo=IST), *(start + m * step,) * 4, None, 1)
        for m in range(minutes)
    ]


def _level_heights(svg: str) -> dict[str, float]:
    found = re.findall(
        r'class="level level-([a-z-]+)" data-price="[0-9.]+"><line [^>]*y1="([0-9.]+)"', svg
    )
    return {name: float(y) for name, y in found}


def test_the_levels_are_drawn_target_above_entry_above_stop_for_a_buy():
    svg = chart_svg(
        day=DAY,
        option=_candles(120.0, 42, 0.25),
        underlying=_candles(24000.0, 42, 2.0),
        levels=LEVELS,
        option_label="NIFTY25DEC24000CE",
        underlying_label="NIFTY",
    )

    heights = _level_heights(svg)
    assert heights["target"] < heights["entry"] < heights["stop-loss"]
    assert "Target 150.00" in svg and "Stop loss 100.00" in svg
    assert svg.count("<polyline") == 2


def test_a_sell_draws_its_target_below_the_entry():
    sell = {"entry_price": 120.0, "target_price": 90.0, "stop_loss": 140.0}

    heights = _level_heights(
        chart_svg(
            day=DAY, option=[], underlying=[], levels=sell, option_label="X", underlying_label="Y"
        )
    )

    assert heights["stop-loss"] < heights["entry"] < heights["target"]


def test_without_ticks_it_says_so_and_escapes_the_names():
    svg = chart_svg(
        day=DAY, option=[], underlying=[], levels={}, option_label="<b>X</b>", underlying_label="Y"
    )

    assert "No ticks of &lt;b&gt;X&lt;/b&gt; on 03 Mar 2025" in svg
    assert "<b>" not in svg
