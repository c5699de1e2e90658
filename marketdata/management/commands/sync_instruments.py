"""`manage.py sync_instruments`: load Angel One's instrument master into `Instrument`."""

import json
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.instruments import instruments_sync


class Command(BaseCommand):
    help = (
        "Load Angel One's instrument master (OpenAPIScripMaster.json) from its URL, or from "
        "--file, so option contracts can be looked up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, help="A downloaded OpenAPIScripMaster.json.")
        parser.add_argument(
            "--url",
            default=settings.ANGEL_ONE_SCRIP_MASTER_URL,
            help="Where to download it from (default: ANGEL_ONE_SCRIP_MASTER_URL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        records = _read_file(options["file"]) if options["file"] else _download(options["url"])
        if not isinstance(records, list):
            raise CommandError("The instrument master must be a JSON list of instruments.")
        result = instruments_sync(records=records)
        self.stdout.write(
            f"Instruments: {result.created} created, {result.updated} updated, "
            f"{result.removed} removed, {result.skipped} skipped."
        )


def _read_file(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CommandError(f"Cannot read {path}: {error}") from None


def _download(url: str) -> object:
    try:
        response = requests.get(url, timeout=(10, 120))
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise CommandError(f"Cannot download the instrument master from {url}: {error}") from None
