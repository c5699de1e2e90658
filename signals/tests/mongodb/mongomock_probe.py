"""Run Django on MongoDB with mongomock as the server, in its own process (the settings read
MONGODB_URL at import):

    MONGODB_URL=mongodb://127.0.0.1:1/ python -m signals.tests.mongodb.mongomock_probe OUT.json

Applies the MongoDB migration set with the backend's own schema editor, then drives the tick
insert and the signal performance figures through the ORM. OUT.json reports each step:
{"ok": ...} or {"skipped": reason} when mongomock lacks what the step needs.
"""

import json
import logging
import os
import sys
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import django
import mongomock

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
CLIENT = mongomock.MongoClient()  # naive dates, as pymongo's default that the backend expects


def _install() -> None:
    from django_mongodb_backend.base import DatabaseWrapper
    from django_mongodb_backend.introspection import DatabaseIntrospection

    DatabaseWrapper.get_new_connection = lambda self, params: CLIENT  # type: ignore[method-assign]
    DatabaseWrapper.get_database_version = lambda self: (7, 0, 0)  # type: ignore[method-assign]
    # pymongo's Collection cannot wrap a mongomock database; mongomock lacks list_collections.
    DatabaseWrapper.get_collection = lambda self, name, **kw: self.database[name]  # type: ignore[method-assign]
    DatabaseIntrospection.table_names = (  # type: ignore[method-assign]
        lambda self, cursor=None, include_views=False: sorted(
            self.connection.database.list_collection_names()
        )
    )


def _migrate() -> dict[str, Any]:
    from django.core.management import call_command
    from django.db.models.signals import post_migrate

    # post_migrate's permission and content type sync reads with $lookup + pipeline, which
    # mongomock 4.3 lacks; the migrations themselves run whole.
    post_migrate.receivers = []
    call_command("migrate", verbosity=0)
    database = CLIENT["trading_signals"]
    return {
        name: {
            index: {"key": [list(k) for k in info["key"]], "unique": info.get("unique", False)}
            for index, info in sorted(database[name].index_information().items())
        }
        for name in ("market_data", "signals", "users", "instruments", "daily_candles")
        if name in database.list_collection_names()
    }


def _ticks() -> dict[str, Any]:
    from marketdata import storage, tick_queries
    from marketdata.ticks import Tick

    def tick(second: int) -> Tick:
        at = NOW + timedelta(seconds=second)
        return Tick(
            token="99926000", symbol="NIFTY", ltpc=23500.0 + second, received_at=at, exchange="NSE"
        )

    first = [tick(s) for s in range(5)]
    instruments = {"99926000": None}  # an index: no instrument columns
    stored = storage.ticks_insert_new(ticks=first, instruments=instruments)  # type: ignore[arg-type]
    again = [tick(s) for s in (3, 4, 5, 6)]
    new = storage.ticks_insert_new(ticks=again, instruments=instruments)  # type: ignore[arg-type]
    latest = tick_queries.ticks_latest(symbols=["NIFTY"])
    return {
        "stored": len(stored),
        "new_of_second_batch": [t.received_at.isoformat() for t in new],
        # Not MarketData.objects.count(): the backend compiles Count() with $type (below).
        "count": CLIENT["trading_signals"]["market_data"].count_documents({}),
        "latest": [(t.symbol, t.received_at.isoformat(), t.ltpc) for t in latest],
    }


def _performance() -> dict[str, Any]:
    from accounts.models import User
    from signals.models import Signal
    from signals.selectors import signal_performance

    author = User.objects.create_user("desk@example.com", "x", name="Desk", is_staff=True)
    common = {
        "user": author,
        "symbol": "NIFTY25MAR23500CE",
        "underlying": "NIFTY",
        "option_type": "CE",
        "quantity": 75,
        "confidence": 70,
        "status": "COMPLETED",
        "outcome": "MANUAL",
    }
    for kind, entry, stop, target, exit_price, held in (
        ("BUY", 120.0, 100.0, 160.0, 150.0, timedelta(hours=1)),  # +30
        ("BUY", 120.0, 100.0, 160.0, 100.0, timedelta(hours=3)),  # -20
        ("SELL", 120.0, 140.0, 80.0, 90.0, timedelta(minutes=30)),  # +30
    ):
        signal = Signal.objects.create(
            signal_type=kind,
            entry_price=entry,
            stop_loss=stop,
            target_price=target,
            exit_price=exit_price,
            closed_at=NOW + held,
            **common,
        )
        Signal.objects.filter(pk=signal.pk).update(created_at=NOW, closed_at=NOW + held)
    figures = signal_performance(start=NOW - timedelta(days=1), end=None)
    return json.loads(json.dumps(figures["by_underlying"], default=str))


def main(out: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_signals.settings")
    _install()
    django.setup()
    from django.db import DatabaseError
    from pymongo.errors import OperationFailure

    logging.disable(logging.CRITICAL)
    results: dict[str, Any] = {}
    for name, step in (("indexes", _migrate), ("ticks", _ticks), ("performance", _performance)):
        try:
            results[name] = {"ok": step()}
        except NotImplementedError as error:  # mongomock's word for an operator it lacks
            results[name] = {"skipped": f"mongomock 4.3 lacks it: {error}"}
        except DatabaseError as error:
            cause = error.__cause__
            if not (isinstance(cause, OperationFailure) and "Unrecognized" in str(cause)):
                results[name] = {"error": traceback.format_exc(limit=-8)}
                continue
            results[name] = {"skipped": f"mongomock 4.3 lacks an operator of the query: {cause}"}
        except Exception:  # noqa: BLE001 - reported by step
            results[name] = {"error": traceback.format_exc(limit=-8)}
    with open(out, "w", encoding="utf-8") as file:
        json.dump(results, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
