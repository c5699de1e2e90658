"""The anchor: `sync_instruments --file` as it was before the streaming sync (until issue 14),
run as its own process so its peak memory can be read. The whole file through `json.loads`,
every stored instrument in a dict, then one pass over the list; records are parsed the way
the current sync parses them, so only the approach differs.

Usage: `python bench/instruments/old_sync.py MASTER.json` (DATABASE_URL picks the database).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import setup_django


def old_sync(records: list) -> tuple[int, int, int, int]:
    from marketdata.instruments.records import SYNCED_FIELDS, master_instrument
    from marketdata.models import Instrument

    def synced_values(instrument: Instrument) -> tuple:
        return tuple(getattr(instrument, name) for name in SYNCED_FIELDS)

    existing = {(i.exchange, i.token): i for i in Instrument.objects.all()}
    created, changed, seen, skipped = [], [], set(), 0
    for record in records:
        parsed = master_instrument(record)
        if parsed is None:
            skipped += 1
            continue
        instrument = parsed.instrument()
        key = (instrument.exchange, instrument.token)
        if key in seen:
            continue
        seen.add(key)
        current = existing.get(key)
        if current is None:
            created.append(instrument)
        elif not current.subscribed and synced_values(current) != synced_values(instrument):
            instrument.pk = current.pk
            changed.append(instrument)
    gone = [i.pk for key, i in existing.items() if key not in seen and not i.subscribed]
    Instrument.objects.bulk_create(created, batch_size=1000)
    Instrument.objects.bulk_update(changed, fields=SYNCED_FIELDS, batch_size=500)
    for start in range(0, len(gone), 1000):
        Instrument.objects.filter(pk__in=gone[start : start + 1000]).delete()
    return len(created), len(changed), len(gone), skipped


if __name__ == "__main__":
    setup_django()
    result = old_sync(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
    print("Instruments: {} created, {} updated, {} removed, {} skipped.".format(*result))
