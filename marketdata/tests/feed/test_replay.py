"""Recording and replaying ticks: the file `--record` writes is what `--source replay` reads."""

import asyncio
from datetime import timedelta

import pytest

from marketdata.feed.replay import ReplaySource
from marketdata.tests.conftest import TRADING_DAY, make_tick, make_ticks
from marketdata.tests.feed.feedprocess import recording_write


def _replayed(source: ReplaySource) -> list:
    async def collect():
        return [tick async for batch in source.ticks() for tick in batch]

    return asyncio.run(collect())


@pytest.mark.parametrize("name", ["session.jsonl", "session.csv"])
def test_a_recorded_session_replays_tick_for_tick(tmp_path, name):
    ticks = [
        *make_ticks(3, "NIFTY"),
        make_tick(
            "SENSEX",
            open=80000.0,
            high=80100.5,
            low=79900.0,
            volume=1234,
            sequence=7,
            depth={"buy": [{"price": 80000.0, "quantity": 10}], "sell": []},
            raw_data={"mode": 3},
            is_realtime=False,
        ),
    ]
    recording = recording_write(tmp_path / name, ticks)

    assert _replayed(ReplaySource(path=recording, speed=0)) == ticks


def test_unreadable_records_are_skipped_and_counted(tmp_path):
    recording = recording_write(tmp_path / "session.jsonl", make_ticks(2))
    with recording.open("a") as handle:
        handle.write("{not json\n")
        handle.write('{"token": "99926000", "symbol": "NIFTY", "ltpc": 1.0}\n')  # no time
        handle.write('{"token": "1", "symbol": "X", "ltpc": 1.0, "received_at": "yesterday"}\n')
    source = ReplaySource(path=recording, speed=0)

    assert len(_replayed(source)) == 2
    assert source.stats == {"ticks": 2, "malformed": 3}


def test_speed_compresses_the_recorded_gaps(tmp_path):
    ticks = [make_tick(at=TRADING_DAY), make_tick(at=TRADING_DAY + timedelta(seconds=3600))]
    recording = recording_write(tmp_path / "session.jsonl", ticks)
    loop_times = []

    async def replay():
        loop = asyncio.get_running_loop()
        async for _batch in ReplaySource(path=recording, speed=36_000).ticks():
            loop_times.append(loop.time())

    asyncio.run(replay())

    # An hour at 36,000x is a tenth of a second: the second tick waits for it, not for an hour.
    assert 0.09 <= loop_times[1] - loop_times[0] < 5
