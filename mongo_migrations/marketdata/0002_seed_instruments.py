"""Seed the six supported indices (see marketdata/indices.py for the corrected tokens)."""

from django.db import migrations

from marketdata.market_calendar import seed, unseed


class Migration(migrations.Migration):
    dependencies = [("marketdata", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
