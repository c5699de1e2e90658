"""`manage.py sync_instruments`: load Angel One's instrument master into `Instrument`."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.instruments import (
    MasterUnreadableError,
    instruments_sync_file,
    instruments_sync_url,
)


class Command(BaseCommand):
    help = (
        "Load Angel One's instrument master (OpenAPIScripMaster.json) from its URL, or from "
        "--file, so option contracts can be looked up. It is parsed as it downloads, in "
        "bounded memory; expired contracts and those it no longer lists are removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, help="A downloaded OpenAPIScripMaster.json.")
        parser.add_argument(
            "--url",
            default=settings.ANGEL_ONE_SCRIP_MASTER_URL,
            help="Where to download it from (default: ANGEL_ONE_SCRIP_MASTER_URL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["file"]:
                result = instruments_sync_file(path=options["file"])
            else:
                result = instruments_sync_url(url=options["url"])
        except MasterUnreadableError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Instruments: {result.created} created, {result.updated} updated, "
            f"{result.removed} removed, {result.skipped} skipped."
        )
