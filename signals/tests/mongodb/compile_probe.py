"""Compile the project's queries to MQL without a MongoDB server: run in its own process with
MONGODB_URL set (the settings read it at import), e.g.

    MONGODB_URL=mongodb://127.0.0.1:1/ python -m signals.tests.mongodb.compile_probe OUT.json

Every collection the backend hands out records its operations instead of sending them, so the
real code paths (selectors, services' reads, jobs, admin changelists, the API's filters and
orderings) run to the point where MongoDB would answer; they then get empty results. Any
compile error (`NotSupportedError` above all) fails the run with the path that raised it.

OUT.json holds the MQL of the key queries (the golden files' content, keyed by query) and
`failures`, the paths that did not compile.
"""

import json
import logging
import os
import sys
import traceback
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import django
import time_machine
from bson import ObjectId, json_util

# A Monday 10:00 IST, as in the SQL tests (marketdata/tests/conftest.py).
NOW = datetime(2025, 1, 6, 4, 30, tzinfo=UTC)
# ObjectIds are random: golden files show a fixed one instead.
FAKE_ID = ObjectId("65f000000000000000000001")


class _Result:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class _EmptyCursor:
    """An answer with no documents, iterable like pymongo's cursors (which also have next())."""

    def __iter__(self) -> "_EmptyCursor":
        return self

    def __next__(self) -> Any:
        raise StopIteration

    next = __next__


class RecordingCollection:
    """Stands for pymongo's Collection: records what would be sent and answers empty."""

    def __init__(self, log: list[dict[str, Any]], name: str) -> None:
        self.log, self.name = log, name

    def _record(self, op: str, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("session", None)
        self.log.append({"collection": self.name, "op": op, "args": list(args), **kwargs})

    def aggregate(self, pipeline: list[dict[str, Any]], *args: Any, **kwargs: Any) -> _EmptyCursor:
        self._record("aggregate", pipeline, *args, **kwargs)
        return _EmptyCursor()

    def find(self, *args: Any, **kwargs: Any) -> _EmptyCursor:
        self._record("find", *args, **kwargs)
        return _EmptyCursor()

    def insert_many(self, documents: list[Any], *args: Any, **kwargs: Any) -> _Result:
        self._record("insert_many", len(documents), *args, **kwargs)
        return _Result(inserted_ids=[FAKE_ID for _ in documents])

    def insert_one(self, document: Any, *args: Any, **kwargs: Any) -> _Result:
        self._record("insert_one", *args, **kwargs)
        return _Result(inserted_id=FAKE_ID)

    def update_many(self, *args: Any, **kwargs: Any) -> _Result:
        self._record("update_many", *args, **kwargs)
        return _Result(matched_count=0, modified_count=0)

    def delete_many(self, *args: Any, **kwargs: Any) -> _Result:
        self._record("delete_many", *args, **kwargs)
        return _Result(deleted_count=0)

    def count_documents(self, *args: Any, **kwargs: Any) -> int:
        self._record("count_documents", *args, **kwargs)
        return 0


def _install(log: list[dict[str, Any]]) -> None:
    from django_mongodb_backend.base import DatabaseWrapper

    DatabaseWrapper.get_collection = (  # type: ignore[method-assign]
        lambda self, name, **kwargs: RecordingCollection(log, name)
    )
    DatabaseWrapper.get_database_version = lambda self: (7, 0, 0)  # type: ignore[method-assign]


def _staff() -> Any:
    from accounts.models import User

    return User(pk=FAKE_ID, email="admin@example.com", is_staff=True, is_superuser=True)


def _key_queries() -> dict[str, Callable[[], Any]]:
    from marketdata import selectors, storage
    from signals.selectors import signal_list, signal_performance

    start, end = NOW - timedelta(days=1), NOW
    queries: dict[str, Callable[[], Any]] = {
        "latest": lambda: selectors.latest_ticks(symbols=["NIFTY", "BANKNIFTY"]),
        "symbol_page": lambda: list(
            selectors.symbol_ticks(symbol="NIFTY", start=start, end=end).order_by(
                "-received_at", "-id"
            )[:50]
        ),
        "statistics": lambda: selectors.market_statistics(now=NOW),
        "signal_performance": lambda: signal_performance(start=start, end=end),
        "signal_list": lambda: list(signal_list(filters={"status": "ACTIVE"})[:20]),
        "ticks_previous": lambda: storage.ticks_previous(first_seen={"NIFTY": NOW}),
    }
    for interval in selectors.INTERVALS:
        queries[f"chart_{interval}"] = lambda interval=interval: selectors.candles_for(
            symbol="NIFTY", interval=interval, start=start, end=end
        )
    return queries


def _other_paths() -> dict[str, Callable[[], Any]]:
    """Compiled but not kept as golden files: the rest of the reads and the jobs."""
    from django.apps import apps
    from django.utils import timezone
    from rest_framework.test import APIClient

    from marketdata import selectors
    from marketdata.market_calendar import IST
    from marketdata.ops import daily
    from signals import contracts, market
    from signals import selectors as signal_selectors
    from signals import services as signal_services

    def contract_find(**terms: Any) -> Callable[[], Any]:
        return lambda: contracts.contract_find(
            instrument=None, terms=terms, now=NOW, errors=defaultdict(list)
        )

    def api(url: str) -> Callable[[], Any]:
        def call() -> None:
            client = APIClient()
            client.force_authenticate(_staff())
            response = client.get(url)
            assert response.status_code < 500, (url, response.status_code)

        return call

    def changelist(model: str, query: str = "") -> Callable[[], Any]:
        def call() -> None:
            from django.apps import apps
            from django.contrib import admin
            from django.test import RequestFactory

            model_class = apps.get_model(model)
            request = RequestFactory().get(f"/admin/x/{query}")
            request.user = _staff()
            # As AdminTimeZoneMiddleware has it: the date hierarchy truncates in IST.
            with timezone.override(IST):
                response = admin.site._registry[model_class].changelist_view(request)
                response.render()
            assert response.status_code == 200, (model, response.status_code)

        return call

    def market_panel() -> None:
        trade = market.Trade("NIFTY25JAN23500CE", "NIFTY", 75, "BUY", 2, {"entry_price": 120.0})
        market.market_panel(trade=trade, now=NOW)

    paths: dict[str, Callable[[], Any]] = {
        "symbols_overview": selectors.symbols_overview,
        "minutes_without_ticks": lambda: selectors.minutes_without_ticks(
            symbol="NIFTY", minutes=[NOW - timedelta(minutes=1)]
        ),
        "daily_candles_build": lambda: daily.daily_candles_build(day=date(2025, 1, 6)),
        "ticks_purge": lambda: daily.ticks_purge(now=NOW, keep_days=30),
        "signals_expire": lambda: signal_services.signals_expire(now=NOW),
        "signal_options_demanded": signal_selectors.signal_options_demanded,
        "contract_find by symbol": contract_find(symbol="NIFTY25JAN23500CE"),
        "contract_find by terms": contract_find(
            underlying="NIFTY", expiry=date(2025, 1, 30), strike=23500.0, option_type="CE"
        ),
        "signals_link_to_master": lambda: contracts.signals_link_to_master(apps, None),
        "signal_quotes": lambda: signal_selectors.latest_quotes(symbols=["NIFTY25JAN23500CE"]),
        "signals_active": signal_selectors.signals_active,
        "signal_performance by week": lambda: signal_selectors.signal_performance(
            start=None, end=NOW, period="week"
        ),
        "admin market panel": market_panel,
    }
    for url in (
        "/api/v1/market-data/latest",
        "/api/v1/market-data/filter?symbol=NIFTY&ordering=-ltpc",
        "/api/v1/market-data/filter?symbol=NIFTY&ordering=received_at",
        "/api/v1/signals/?status=ACTIVE&ordering=-created_at",
        "/api/v1/signals/?ordering=entry_price",
        "/api/v1/signals/performance",
        "/api/v1/signals/performance?period=month",
    ):
        paths[f"api {url}"] = api(url)
    for model in ("marketdata.MarketData", "marketdata.Instrument", "marketdata.MarketSession"):
        paths[f"admin {model}"] = changelist(model)
    paths["admin signals.Signal"] = changelist("signals.Signal", "?status__exact=ACTIVE&o=2")
    paths["admin signals.Signal unmatched"] = changelist("signals.Signal", "?instrument_matched=no")
    for feed in ("streaming", "no_recent_tick"):  # by P&L (column 9), the option's feed state
        paths[f"admin signals.Signal {feed}"] = changelist("signals.Signal", f"?feed={feed}&o=-9")
    paths["admin accounts.User"] = changelist("accounts.User", "?q=someone")
    return paths


def _normalized(value: Any) -> Any:
    """JSON-ready MQL (dates, ObjectIds as extended JSON) with volatile values fixed."""
    text = json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS)
    return json.loads(text.replace(str(FAKE_ID), "FAKE_ID"))


def main(out: str) -> int:
    if not os.environ.get("MONGODB_URL"):
        print("Set MONGODB_URL (any address: nothing is sent).", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trading_signals.settings")
    log: list[dict[str, Any]] = []
    _install(log)
    django.setup()
    logging.disable(logging.CRITICAL)  # the paths' own log lines are noise here
    results: dict[str, Any] = {"queries": {}, "compiled": [], "failures": {}}
    with time_machine.travel(NOW, tick=False):
        for group, paths in (("queries", _key_queries()), ("compiled", _other_paths())):
            for name, run in paths.items():
                del log[:]
                try:
                    run()
                except Exception:  # noqa: BLE001 - every failure is reported by name
                    results["failures"][name] = traceback.format_exc(limit=-6)
                    continue
                if group == "queries":
                    results["queries"][name] = _normalized(log)
                else:
                    results["compiled"].append(name)
    with open(out, "w", encoding="utf-8") as file:
        # Not sort_keys: the order of a $sort document is its meaning.
        json.dump(results, file, indent=1)
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
