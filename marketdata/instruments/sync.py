"""`instruments_sync`: Angel One's scrip master into `Instrument`, in bounded memory.

Records are read as they come (a stream from `master`), a batch at a time: each batch fetches
only its own (exchange, token) rows, creates the new ones and updates the changed ones, so a
re-sync of an unchanged master writes nothing. Once the whole master has been read, expired
contracts and those the master no longer lists retire, in batches through the ORM (so models
that reference an instrument get their own `on_delete`). Memory holds one batch and the keys
seen so far (`SeenKeys`, a few MB for 150,000 rows), never the master or the table.
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from marketdata.instruments.records import SYNCED_FIELDS, MasterInstrument, master_instrument
from marketdata.market_calendar import IST
from marketdata.models import Instrument

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000  # records read, looked up and written together
# Keys per lookup query, and instruments per delete: under the 999 parameters Django allows a
# SQLite statement (SQLite before 3.32 refuses more).
LOOKUP_KEYS = 900
DELETE_BATCH = 900
SCAN_BATCH = 5000  # keys read per query when looking for instruments the master dropped

Key = tuple[str, str]  # (exchange, token)
Stored = tuple[Any, bool, tuple[Any, ...]]  # a row's pk, subscribed, and synced values


@dataclass(frozen=True)
class InstrumentSyncResult:
    created: int
    updated: int
    removed: int  # expired, or no longer listed
    # malformed records, segments the WebSocket cannot stream, or contracts already expired
    skipped: int


class SeenKeys:
    """The (exchange, token) keys read so far, compact: one set per exchange, with tokens that
    are plain decimal numbers (nearly all of them) kept as ints rather than strings."""

    def __init__(self) -> None:
        self._by_exchange: dict[str, set[int | str]] = {}
        self._count = 0

    @staticmethod
    def _compact(token: str) -> int | str:
        plain = token.isascii() and token.isdecimal() and not token.startswith("0")
        return int(token) if plain else token

    def add(self, exchange: str, token: str) -> bool:
        """Remember the key; False when it was already there."""
        tokens = self._by_exchange.setdefault(exchange, set())
        compact = self._compact(token)
        if compact in tokens:
            return False
        tokens.add(compact)
        self._count += 1
        return True

    def __contains__(self, key: Key) -> bool:
        exchange, token = key
        return self._compact(token) in self._by_exchange.get(exchange, ())

    def __len__(self) -> int:
        return self._count


def _batches(records: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _batch_parse(
    records: list[Any], *, seen: SeenKeys, today: date
) -> tuple[list[MasterInstrument], int]:
    """The batch's instruments not read before (the first of a repeated key wins), and how
    many records were skipped."""
    fresh: list[MasterInstrument] = []
    skipped = 0
    for record in records:
        instrument = master_instrument(record)
        if instrument is None or (instrument.expiry is not None and instrument.expiry < today):
            skipped += 1
        elif seen.add(instrument.exchange, instrument.token):
            fresh.append(instrument)
    return fresh, skipped


def _stored(instruments: list[MasterInstrument]) -> dict[Key, Stored]:
    """(pk, subscribed, synced values) of the stored rows of these instruments' keys, read as
    tuples through the unique (exchange, token) index, LOOKUP_KEYS keys a query."""
    stored: dict[Key, Stored] = {}
    for start in range(0, len(instruments), LOOKUP_KEYS):
        tokens: dict[str, list[str]] = {}
        for instrument in instruments[start : start + LOOKUP_KEYS]:
            tokens.setdefault(instrument.exchange, []).append(instrument.token)
        match = Q()
        for exchange, exchange_tokens in tokens.items():
            match |= Q(exchange=exchange, token__in=exchange_tokens)
        rows = Instrument.objects.filter(match).values_list(
            "exchange", "token", "pk", "subscribed", *SYNCED_FIELDS
        )
        stored.update({(row[0], row[1]): (row[2], row[3], row[4:]) for row in rows})
    return stored


def _batch_store(instruments: list[MasterInstrument]) -> tuple[int, int]:
    """Create the new instruments and update the changed ones (subscribed ones are left as
    staff keep them); returns (created, updated). Unchanged rows are not written."""
    if not instruments:
        return 0, 0
    stored = _stored(instruments)
    new: list[Instrument] = []
    changed: list[Instrument] = []
    now = timezone.now()
    for instrument in instruments:
        current = stored.get((instrument.exchange, instrument.token))
        if current is None:
            new.append(instrument.instrument())
        elif not current[1] and current[2] != instrument.synced:
            row = instrument.instrument()
            row.pk, row.updated_at = current[0], now
            changed.append(row)
    if new or changed:
        with transaction.atomic():
            Instrument.objects.bulk_create(new, batch_size=500)
            Instrument.objects.bulk_update(
                changed, fields=[*SYNCED_FIELDS, "updated_at"], batch_size=500
            )
    return len(new), len(changed)


def _delete(pks: list[Any]) -> int:
    removed = 0
    for start in range(0, len(pks), DELETE_BATCH):
        _total, by_model = Instrument.objects.filter(
            pk__in=pks[start : start + DELETE_BATCH]
        ).delete()
        removed += by_model.get(Instrument._meta.label, 0)
    return removed


def _expired_remove(*, today: date) -> int:
    expired: QuerySet[Instrument] = Instrument.objects.filter(subscribed=False, expiry__lt=today)
    removed = 0
    while pks := list(expired.values_list("pk", flat=True)[:DELETE_BATCH]):
        removed += _delete(pks)
    return removed


def _unlisted_remove(*, seen: SeenKeys) -> int:
    """Remove the unsubscribed instruments whose key the master did not list, reading the
    table a page of keys at a time in primary-key order."""
    if not seen:
        # An empty master is a broken download, not a market without instruments.
        logger.warning("The instrument master listed no instrument: none removed as unlisted")
        return 0
    unsubscribed = Instrument.objects.filter(subscribed=False).order_by("pk")
    removed, after = 0, None
    while True:
        page = unsubscribed if after is None else unsubscribed.filter(pk__gt=after)
        rows = list(page.values_list("pk", "exchange", "token")[:SCAN_BATCH])
        if not rows:
            return removed
        after = rows[-1][0]
        removed += _delete([pk for pk, exchange, token in rows if (exchange, token) not in seen])


def instruments_sync(
    *, records: Iterable[Any], today: date | None = None, batch_size: int = BATCH_SIZE
) -> InstrumentSyncResult:
    """Upsert Angel One's instrument master by (exchange, token), then remove the contracts
    that expired before `today` (IST; default today) and those the master no longer lists.
    Subscribed instruments are neither changed nor removed: they keep their short codes.

    `records` is read once, lazily. If reading it fails (`master.MasterUnreadableError`), the
    batches already stored stay and nothing is removed."""
    today = today or datetime.now(tz=IST).date()
    seen = SeenKeys()
    created = updated = skipped = 0
    for batch in _batches(records, batch_size):
        instruments, rejected = _batch_parse(batch, seen=seen, today=today)
        added, changed = _batch_store(instruments)
        created, updated, skipped = created + added, updated + changed, skipped + rejected
    removed = _expired_remove(today=today) + _unlisted_remove(seen=seen)
    result = InstrumentSyncResult(created, updated, removed, skipped)
    logger.info(
        "Instrument master: %d listed, %d created, %d updated, %d removed, %d skipped",
        len(seen), created, updated, removed, skipped,
    )  # fmt: skip
    return result
