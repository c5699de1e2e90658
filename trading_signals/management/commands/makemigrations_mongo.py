from typing import Any

from django.conf import settings
from django.core.management import CommandError, call_command
from django.core.management.commands.makemigrations import Command as MakeMigrations
from django.db.migrations.loader import MigrationLoader


class Command(MakeMigrations):
    help = (
        "Write the MongoDB migration set (mongo_migrations/) without a MongoDB server. "
        "Run with MONGODB_URL set; takes makemigrations' options (e.g. --check --dry-run)."
    )

    def handle(self, *app_labels: str, **options: Any) -> None:
        if not settings.USES_MONGODB:
            raise CommandError("Set MONGODB_URL so that the MongoDB settings are loaded.")
        # The consistency check reads applied migrations from a live server; writing the
        # files needs none, so a machine without MongoDB can keep both sets in step.
        MigrationLoader.check_consistent_history = lambda self, connection: None  # type: ignore[method-assign]
        labels = app_labels or tuple(settings.MIGRATION_MODULES)
        call_command("makemigrations", *labels, **options)
