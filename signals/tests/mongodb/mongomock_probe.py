"""Run Django on MongoDB with mongomock as the server, in its own process (the settings read
MONGODB_URL at import):

    MONGODB_URL=mongodb://127.0.0.1:1/ python -m signals.tests.mongodb.mongomock_probe OUT.json

Applies the MongoDB migration set with the backend's own schema editor (and the post-migrate
content types and permissions), then drives `tick_ingest`, and the signals tests' history
made through the services and its performance figures, through the ORM. OUT.json reports
each step:
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
from mongomock import aggregate

NOW = datetime(2025, 3, 3, 4, 0, tzinfo=UTC)  # 09:30 IST, in a regular session
# Closing times around the signals tests' HISTORY_DAY (2025-03-03), both bounds applied.
PERFORMANCE_RANGE = (datetime(2025, 3, 2, tzinfo=UTC), datetime(2025, 3, 4, tzinfo=UTC))
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
    # Two stages the backend emits that mongomock 4.3 lacks, each taught as the equivalent
    # MongoDB documents, which mongomock has; the queries themselves are not rewritten.
    aggregate._PIPELINE_HANDLERS["$unset"] = _unset_stage
    aggregate._PIPELINE_HANDLERS["$lookup"] = _lookup_stage


def _unset_stage(documents: list[Any], database: Any, fields: str | list[str]) -> Any:
    """Grouped queries end with {"$unset": "_id"}: an alias of an exclusion $project."""
    names = [fields] if isinstance(fields, str) else fields
    return aggregate._handle_project_stage(documents, database, dict.fromkeys(names, 0))


def _lookup_stage(documents: list[Any], database: Any, options: dict[str, Any]) -> Any:
    """select_related joins with localField/foreignField and `"pipeline": []`: an empty
    pipeline leaves the matched documents as they are, the plain equality lookup. Any other
    pipeline still raises mongomock's NotImplementedError."""
    if options.get("pipeline") == []:
        options = {key: value for key, value in options.items() if key != "pipeline"}
    return _LOOKUP(documents, database, options)


_LOOKUP = aggregate._handle_lookup_stage


def _migrate() -> dict[str, Any]:
    from django.core.management import call_command

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
    from marketdata import tick_queries
    from marketdata.services import tick_ingest
    from marketdata.ticks import Tick

    def tick(second: int) -> Tick:  # NIFTY's index token, seeded by the migration set
        at = NOW + timedelta(seconds=second)
        return Tick(token="99926000", symbol="NIFTY", ltpc=23500.0 + second, received_at=at)

    first = tick_ingest(ticks=[tick(s) for s in range(5)])
    # Seconds 3 and 4 are stored already, and 5 comes twice in the batch.
    again = tick_ingest(ticks=[tick(s) for s in (3, 4, 5, 5, 6)])
    latest = tick_queries.ticks_latest(symbols=["NIFTY"])
    return {
        "stored": len(first.stored),
        "new_of_second_batch": [t.received_at.isoformat() for t in again.stored],
        "duplicates_of_second_batch": again.duplicates,
        # Not MarketData.objects.count(): the backend compiles Count() with `$type`, which
        # mongomock 4.3 lacks ("Unrecognized expression '$type'").
        "count": CLIENT["trading_signals"]["market_data"].count_documents({}),
        "latest": [(t.symbol, t.received_at.isoformat(), t.ltpc) for t in latest],
    }


def _performance() -> dict[str, Any]:
    from accounts.models import User
    from signals.selectors import signal_performance
    from signals.tests.helpers import TEST_OPTIONS, history_make, option_contract_create

    for symbol in TEST_OPTIONS:
        option_contract_create(symbol)
    desk = User.objects.create_user("desk@example.com", "x", name="Desk", is_staff=True)
    history_make(desk=desk)
    start, end = PERFORMANCE_RANGE
    figures = signal_performance(start=start, end=end)
    return json.loads(json.dumps(figures, default=str))


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
