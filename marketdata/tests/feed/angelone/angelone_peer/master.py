"""The peer's scrip master: Angel One's OpenAPIScripMaster.json, served at the path of the
real one, from `master_records` (a small master around today by default, see `peer_master`).
`master_gzip` sends it gzip-encoded, `master_cut` declares more bytes than it sends (a
download cut short), `master_status` answers with another status; `master_requests` counts
the downloads."""

import gzip
import json
from datetime import date, datetime, timedelta
from typing import Any

from marketdata.market_calendar import IST
from testing.http import RawBody

MASTER_PATH = "/OpenAPI_File/files/OpenAPIScripMaster.json"


def master_record(
    token: str,
    symbol: str,
    *,
    name: str,
    exchange: str,
    instrument_type: str = "",
    expiry: date | None = None,
    strike: float = -1,
    lot_size: int = 1,
    tick_size: float = 5,
) -> dict[str, str]:
    """One record as the real master writes it: every value a string, strikes and tick sizes
    in paise, expiries as 26DEC2024."""
    return {
        "token": token,
        "symbol": symbol,
        "name": name,
        "expiry": expiry.strftime("%d%b%Y").upper() if expiry else "",
        "strike": f"{strike * 100:.6f}" if strike > 0 else f"{strike:.6f}",
        "lotsize": str(lot_size),
        "instrumenttype": instrument_type,
        "exch_seg": exchange,
        "tick_size": f"{tick_size:.6f}",
    }


def option_symbol(name: str, expiry: date, strike: int, kind: str) -> str:
    return f"{name}{expiry.strftime('%d%b%y').upper()}{strike}{kind}"


def peer_master(today: date) -> list[dict[str, str]]:
    """A small master around `today`: the NIFTY index, an equity, a NIFTY future, NIFTY and
    SENSEX options of next week's expiry, and a NIFTY option that expired yesterday."""
    week, gone = today + timedelta(days=7), today - timedelta(days=1)
    options = [
        master_record(
            f"{35000 + n}", option_symbol("NIFTY", week, strike, kind), name="NIFTY",
            exchange="NFO", instrument_type="OPTIDX", expiry=week, strike=strike, lot_size=75,
        )
        for n, (strike, kind) in enumerate([(24000, "CE"), (24000, "PE"), (24100, "CE")])
    ]  # fmt: skip
    return [
        master_record(
            "99926000", "Nifty 50", name="NIFTY", exchange="NSE", instrument_type="AMXIDX",
            strike=0, tick_size=0,
        ),
        master_record("2885", "RELIANCE-EQ", name="RELIANCE", exchange="NSE"),
        master_record(
            "35100", f"NIFTY{week.strftime('%d%b%y').upper()}FUT", name="NIFTY", exchange="NFO",
            instrument_type="FUTIDX", expiry=week, lot_size=75, tick_size=10,
        ),
        *options,
        master_record(
            "840001", option_symbol("SENSEX", week, 80000, "CE"), name="SENSEX", exchange="BFO",
            instrument_type="OPTIDX", expiry=week, strike=80000, lot_size=20,
        ),
        master_record(
            "34999", option_symbol("NIFTY", gone, 24000, "CE"), name="NIFTY", exchange="NFO",
            instrument_type="OPTIDX", expiry=gone, strike=24000, lot_size=75,
        ),
    ]  # fmt: skip


class PeerMaster:
    """The scrip master route of `AngelOnePeer` (a mixin of its REST server)."""

    api_url: str

    def _master_init(self) -> None:
        self.master_records: list[Any] = peer_master(datetime.now(tz=IST).date())
        self.master_gzip = False
        self.master_cut = False
        self.master_status = 200
        self.master_requests = 0

    @property
    def master_url(self) -> str:
        return f"{self.api_url}{MASTER_PATH}"

    def master_answer(self) -> tuple[int, RawBody]:
        self.master_requests += 1
        data = json.dumps(self.master_records).encode()
        headers = {"Content-Type": "application/json"}
        if self.master_gzip:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        if self.master_cut:
            headers["Content-Length"] = str(len(data) * 2)
            data = data[: len(data) // 2]
        return self.master_status, RawBody(data, headers)
