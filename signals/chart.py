"""The admin's intraday chart, drawn on the server as SVG: the option's 1m closes (left axis),
its underlying's (right axis, dashed) and the signal's target, entry and stop-loss levels.

Server-side SVG rather than a vendored chart library: the page needs one small static chart
that the panel redraws every few seconds, which a few dozen lines of SVG do with no script to
load, no library to keep current, and elements a test can read (each level is a `<line>`
with its price; the time labels are IST). Times are the candles' own (IST buckets).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from marketdata.market_calendar import IST, REGULAR_CLOSE, REGULAR_OPEN
from marketdata.selectors import Candle

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 72, 24, 28  # margins: price axes, legend, time axis
LEVEL_STYLES = {  # drawn in this order; label and colour
    "target_price": ("Target", "#2e7d32"),
    "entry_price": ("Entry", "#1d72b8"),
    "stop_loss": ("Stop loss", "#c62828"),
}
OPTION_COLOUR, UNDERLYING_COLOUR = "#263238", "#9e9e9e"


@dataclass(frozen=True)
class _Axis:
    """Maps values in [low, high] onto pixels from `far` (low) to `near` (high)."""

    low: float
    high: float
    far: float
    near: float

    def at(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return round(self.far + share * (self.near - self.far), 1)


def _price_axis(values: Sequence[float]) -> _Axis:
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or max(abs(high) * 0.01, 0.5)
    return _Axis(low - pad, high + pad, HEIGHT - BOTTOM, TOP)


def _time_axis(day: date, candles: Sequence[Candle]) -> _Axis:
    """The regular session of `day`, widened to any candle outside it (special sessions)."""
    times = [datetime.combine(day, REGULAR_OPEN, IST), datetime.combine(day, REGULAR_CLOSE, IST)]
    times += [candle.time for candle in candles]
    first, last = min(times).timestamp(), max(times).timestamp()
    return _Axis(first, last, LEFT, WIDTH - RIGHT)


def _time_labels(day: date, axis: _Axis) -> list[str]:
    moments = [datetime.combine(day, REGULAR_OPEN, IST)]
    moments += [datetime.combine(day, time(hour), IST) for hour in range(10, 16)]
    moments.append(datetime.combine(day, REGULAR_CLOSE, IST))
    y = HEIGHT - BOTTOM + 16
    return [
        f'<text class="time-label" x="{axis.at(moment.timestamp())}" y="{y}" '
        f'text-anchor="middle">{moment:%H:%M}</text>'
        for moment in moments
        if axis.low <= moment.timestamp() <= axis.high
    ]


def _price_labels(axis: _Axis, *, x: float, anchor: str, css: str) -> list[str]:
    steps = 4
    values = [axis.low + (axis.high - axis.low) * n / steps for n in range(steps + 1)]
    return [
        f'<text class="{css}" x="{x}" y="{axis.at(value) + 4}" text-anchor="{anchor}">'
        f"{value:,.2f}</text>"
        for value in values
    ]


def _polyline(candles: Sequence[Candle], times: _Axis, prices: _Axis, css: str, style: str) -> str:
    points = " ".join(f"{times.at(c.time.timestamp())},{prices.at(c.close)}" for c in candles)
    return f'<polyline class="series {css}" fill="none" {style} points="{points}"/>'


def _levels(levels: Mapping[str, float], prices: _Axis) -> list[str]:
    drawn = []
    for name, (label, colour) in LEVEL_STYLES.items():
        if name not in levels:
            continue
        price = levels[name]
        y = prices.at(price)
        css = f"level level-{name.replace('_price', '').replace('_', '-')}"
        drawn.append(
            f'<g class="{css}" data-price="{price}"><line x1="{LEFT}" x2="{WIDTH - RIGHT}" '
            f'y1="{y}" y2="{y}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 3"/>'
            f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4}" text-anchor="end" fill="{colour}">'
            f"{label} {price:,.2f}</text></g>"
        )
    return drawn


def chart_svg(
    *,
    day: date,
    option: Sequence[Candle],
    underlying: Sequence[Candle],
    levels: Mapping[str, float],
    option_label: str,
    underlying_label: str,
) -> SafeString:
    """The chart as inline SVG markup (every text escaped)."""
    option_values = [value for c in option for value in (c.high, c.low)] + list(levels.values())
    prices = _price_axis(option_values or [0.0, 1.0])
    times = _time_axis(day, [*option, *underlying])
    parts = [
        f'<svg class="signal-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}" role="img" aria-label="{escape(option_label)} on {day:%d %b %Y} (IST)">',
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="#fafafa" stroke="#e0e0e0"/>',
        *_time_labels(day, times),
        *_price_labels(prices, x=LEFT - 6, anchor="end", css="price-label option-axis"),
    ]
    if underlying:
        axis = _price_axis([value for c in underlying for value in (c.high, c.low)])
        css = "price-label underlying-axis"
        parts += _price_labels(axis, x=WIDTH - RIGHT + 6, anchor="start", css=css)
        dashed = f'stroke="{UNDERLYING_COLOUR}" stroke-dasharray="3 2"'
        parts.append(_polyline(underlying, times, axis, "underlying", dashed))
    if option:
        style = f'stroke="{OPTION_COLOUR}" stroke-width="1.5"'
        parts.append(_polyline(option, times, prices, "option", style))
        last = option[-1]
        parts.append(
            f'<circle class="last-price" cx="{times.at(last.time.timestamp())}" '
            f'cy="{prices.at(last.close)}" r="3" fill="{OPTION_COLOUR}"/>'
        )
    else:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            f"No ticks of {escape(option_label)} on {day:%d %b %Y}</text>"
        )
    parts += _levels(levels, prices)
    parts.append(
        f'<text class="legend" x="{LEFT}" y="{TOP - 8}">{escape(option_label)} (left axis, '
        f"IST)</text>"
        f'<text class="legend" x="{WIDTH - RIGHT}" y="{TOP - 8}" text-anchor="end" '
        f'fill="{UNDERLYING_COLOUR}">{escape(underlying_label)} (right axis, dashed)</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from numbers and escaped text
