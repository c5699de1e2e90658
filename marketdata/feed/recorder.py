"""Recording ticks to a file (`run_feed --record FILE`) in the format the replay source reads.

A name ending in `.csv` gets CSV with a header row (`depth` and `raw_data` as JSON text, an
empty cell for None); any other name gets JSON Lines, one tick per line. Either way the
columns are the `Tick` attributes and times are ISO 8601 with their UTC offset, so a
recorded session replays tick for tick.
"""

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from marketdata.ticks import Tick

COLUMNS = [f.name for f in fields(Tick)]
_FLOATS = {"ltpc", "open", "high", "low", "close", "ch", "chp"}
_INTS = {"exchange_type", "volume", "sequence"}
_JSON = {"depth", "raw_data"}


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def tick_to_record(tick: Tick) -> dict[str, Any]:
    record = asdict(tick)
    record["received_at"] = tick.received_at.isoformat()
    return record


def tick_from_record(record: dict[str, Any]) -> Tick:
    """Build a Tick from a JSON Lines object or a CSV row (where every value is text)."""
    values = {name: _value(name, record.get(name)) for name in COLUMNS if name in record}
    tick = Tick(**values)
    if not isinstance(tick.received_at, datetime) or tick.received_at.tzinfo is None:
        raise ValueError("received_at must be an ISO 8601 time with its UTC offset")
    return tick


def _value(name: str, value: Any) -> Any:
    if name == "raw_data" and value in (None, ""):
        return {}
    if not isinstance(value, str):
        return value
    if value == "" and name in _FLOATS | _INTS | _JSON:
        return None
    if name == "received_at":
        return datetime.fromisoformat(value)
    if name in _FLOATS:
        return float(value)
    if name in _INTS:
        return int(value)
    if name in _JSON:
        return json.loads(value)
    if name == "is_realtime":
        return value.lower() == "true"
    return value


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


class TickRecorder:
    """Appends every tick received to `path`; flushed at each batch, closed at shutdown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] = path.open("a", newline="", encoding="utf-8")
        self._csv = csv.DictWriter(self._handle, COLUMNS) if is_csv(path) else None
        if self._csv is not None and self._handle.tell() == 0:
            self._csv.writeheader()

    def write(self, ticks: Iterable[Tick]) -> None:
        for tick in ticks:
            record = tick_to_record(tick)
            if self._csv is not None:
                self._csv.writerow({key: _csv_cell(value) for key, value in record.items()})
            else:
                self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
