"""The demand's vocabulary: modes, priorities, limits, what the feed is asked to stream."""

import logging
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings

from marketdata.models import Instrument

logger = logging.getLogger(__name__)


MODES = ("ltp", "quote", "snap_quote")  # lowest to highest
DEFAULT_MODE = "quote"
HOLDS_KEY = "demand:holds"
TOUCHES_KEY = "demand:touches"
REFUSALS_KEY = "demand:refusals"
LEASE_SECONDS = 15.0  # a lease not refreshed for this long belongs to a dead process
LEASE_REFRESH_SECONDS = 5.0
REFUSALS_SHOWN_SECONDS = 600  # /health mentions refusals this long after the last one
REDIS_TIMEOUT_SECONDS = 2.0
WRITE_RETRY_SECONDS = 1.0
LOG_EVERY_SECONDS = 30.0

# Priority when the demand exceeds the capacity: lower first.
SUBSCRIBED, PROVIDED, HELD, TOUCHED = range(4)


class DemandFullError(Exception):
    """Admitting these symbols would take the demand past `LIVE_DEMAND_MAX_INSTRUMENTS`."""

    def __init__(self, *, symbols: Sequence[str], demanded: int, capacity: int) -> None:
        self.symbols = list(symbols)
        self.demanded = demanded
        self.capacity = capacity
        super().__init__(
            f"The feed streams at most {capacity} instruments and {demanded} are in demand: "
            f"{', '.join(self.symbols)} cannot be added now. Try again when fewer are streamed."
        )


@dataclass(frozen=True)
class DemandedInstrument:
    instrument: Instrument
    mode: str  # one of MODES

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def key(self) -> tuple[int, str]:
        return (int(self.instrument.exchange_type), str(self.instrument.token))


@dataclass(frozen=True)
class Demand:
    instruments: tuple[DemandedInstrument, ...]  # to stream, at most the capacity, by priority
    over: tuple[str, ...] = ()  # demanded past the capacity: not streamed
    basis: Hashable = field(default=None, compare=False)  # what it was built from
    watched: frozenset[str] = frozenset()  # held by /ws clients: the ticks worth pushing

    def symbols(self) -> set[str]:
        return {item.symbol for item in self.instruments}

    def signature(self) -> tuple[tuple[int, str, str, str], ...]:
        """What a source subscribes: equal signatures need no change."""
        return tuple(sorted((*item.key, item.symbol, item.mode) for item in self.instruments))


def demand_build(
    rows: Iterable[Instrument],
    *,
    wanted: dict[str, tuple[int, list[str | None]]],
    default_mode: str,
    keep: set[str],
    basis: Hashable,
    watched: frozenset[str],
) -> Demand:
    """The Demand of these instrument rows, ranked by priority and cut at the capacity."""
    chosen: dict[tuple[int, str], tuple[int, Instrument, list[str | None]]] = {}
    # A symbol on several segments: the subscribed row, else the first by exchange and token.
    ordered = sorted(rows, key=lambda row: (not row.subscribed, row.exchange, row.token))
    symbols_done: set[str] = set()
    for row in ordered:
        key = (int(row.exchange_type), str(row.token))
        priority, modes = wanted.get(row.symbol, (TOUCHED, []))
        if row.subscribed:
            chosen[key] = (SUBSCRIBED, row, [*modes, None])
        elif row.symbol not in symbols_done:
            chosen[key] = (priority, row, modes)
        symbols_done.add(row.symbol)
    ranked = sorted(
        chosen.values(), key=lambda item: (item[0], item[1].symbol not in keep, item[1].symbol)
    )
    items = tuple(
        DemandedInstrument(
            instrument=row, mode=mode_highest(mode or default_mode for mode in modes)
        )
        for _, row, modes in ranked
    )
    capacity = _capacity()
    return Demand(
        instruments=items[:capacity],
        over=tuple(item.symbol for item in items[capacity:]),
        basis=basis,
        watched=watched,
    )


def mode_highest(modes: Iterable[str]) -> str:
    return max(modes, key=MODES.index)


def _capacity() -> int:
    return int(settings.LIVE_DEMAND_MAX_INSTRUMENTS)


def _grace() -> float:
    return float(settings.LIVE_DEMAND_GRACE_SECONDS)


def _mode_checked(mode: str | None) -> str | None:
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def _upper(symbols: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(symbol.strip().upper() for symbol in symbols if symbol.strip()))
