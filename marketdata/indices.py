"""The six supported indices with Angel One's tokens, seeded by a data migration in each
migration set (SQL and MongoDB).

The old design used 99926017 for SENSEX: that token is India VIX on NSE. Angel One's scrip
master gives SENSEX 99919000 and BANKEX 99919012, both on BSE (exchange type 3).
"""

from django.apps.registry import Apps

INDICES = [
    # token, symbol, name, exchange, exchange_type
    ("99926000", "NIFTY", "NIFTY 50", "NSE", 1),
    ("99926009", "BANKNIFTY", "NIFTY BANK", "NSE", 1),
    ("99926037", "FINNIFTY", "NIFTY FIN SERVICE", "NSE", 1),
    ("99926074", "MIDCPNIFTY", "NIFTY MIDCAP SELECT", "NSE", 1),
    ("99919000", "SENSEX", "SENSEX", "BSE", 3),
    ("99919012", "BANKEX", "BANKEX", "BSE", 3),
]


def seed(apps: Apps, schema_editor: object) -> None:
    Instrument = apps.get_model("marketdata", "Instrument")
    for token, symbol, name, exchange, exchange_type in INDICES:
        Instrument.objects.update_or_create(
            exchange=exchange,
            token=token,
            defaults={
                "symbol": symbol,
                "name": name,
                "exchange_type": exchange_type,
                "instrument_type": "AMXIDX",
                "lot_size": 1,
                "tick_size": 0.05,
                "subscribed": True,
            },
        )


def unseed(apps: Apps, schema_editor: object) -> None:
    Instrument = apps.get_model("marketdata", "Instrument")
    for token, _symbol, _name, exchange, _type in INDICES:
        Instrument.objects.filter(exchange=exchange, token=token).delete()
