"""Tie existing signals to the instrument master's option contract of the same symbol; those
matching none keep working, flagged (see signals/contracts.py)."""

from django.db import migrations

from signals.contracts import signals_link_to_master


class Migration(migrations.Migration):
    dependencies = [("signals", "0002_signal_instrument")]

    operations = [migrations.RunPython(signals_link_to_master, migrations.RunPython.noop)]
