"""The peer's REST API: login, profile, token refresh and `getCandleData`, answered with the
service's envelopes (including its error shapes); and the route to the scrip master."""

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import pyotp

from marketdata.market_calendar import IST
from marketdata.tests.feed.angelone.angelone_peer.master import MASTER_PATH
from testing import http

LOGIN_PATH = "/rest/auth/angelbroking/user/v1/loginByPassword"
PROFILE_PATH = "/rest/secure/angelbroking/user/v1/getProfile"
REFRESH_PATH = "/rest/auth/angelbroking/jwt/v1/generateTokens"
CANDLE_PATH = "/rest/secure/angelbroking/historical/v1/getCandleData"


@dataclass(frozen=True)
class PeerCredentials:
    api_key: str = "peer-api-key"
    client_id: str = "P100200"
    password: str = "4321"
    totp_key: str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

    def as_settings(self) -> dict[str, str]:
        return {
            "ANGEL_ONE_API_KEY": self.api_key,
            "ANGEL_ONE_CLIENT_ID": self.client_id,
            "ANGEL_ONE_PASSWORD": self.password,
            "ANGEL_ONE_TOTP_KEY": self.totp_key,
        }


@dataclass
class Session:
    jwt: str
    feed_token: str
    refresh_token: str
    valid: bool = True


def peer_candle(minute: datetime) -> list[Any]:
    """The peer's one-minute candle for `minute`: prices that tell minutes apart."""
    base = 23_000 + minute.hour * 100 + minute.minute
    stamp = minute.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S+05:30")
    return [stamp, base + 0.5, base + 3.0, base - 2.0, base + 1.25, 0]


class PeerRest:
    """The REST half of `AngelOnePeer` (a mixin: the WebSocket half checks its sessions)."""

    def _rest_init(self, credentials: PeerCredentials) -> None:
        self.credentials = credentials
        self.session_seconds = 3600.0
        self.signing_key = secrets.token_hex(16)
        self.logins = 0
        self.failed_logins: list[str] = []
        self.refreshes = 0
        self.candle_requests: list[tuple[float, dict[str, Any]]] = []  # (monotonic time, body)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._http = http.JsonServer(self._answer)

    @property
    def api_url(self) -> str:
        return self._http.url

    def _answer(self, request: http.Request) -> tuple[int, Any]:
        route = (request.method, request.path)
        if route == ("POST", LOGIN_PATH):
            return self.login(request.headers, request.body)
        if route == ("POST", REFRESH_PATH):
            return self.refresh(request.headers, request.body)
        if route == ("POST", CANDLE_PATH):
            return self.candles(request.headers, request.body)
        if route == ("GET", PROFILE_PATH):
            return self.profile(request.headers)
        if route == ("GET", MASTER_PATH):
            return self.master_answer()  # PeerMaster's
        return 404, {"status": False, "message": "Not Found", "errorcode": "", "data": None}

    def issue_session(self) -> Session:
        def token(kind: str) -> str:
            claims = {
                "sub": self.credentials.client_id,
                "kind": kind,
                "nonce": secrets.token_hex(4),
            }
            claims["exp"] = int(time.time() + self.session_seconds)
            return jwt.encode(claims, self.signing_key, algorithm="HS256")

        session = Session(jwt=token("jwt"), feed_token=token("feed"), refresh_token=token("ref"))
        with self._lock:
            self._sessions[session.jwt] = session
        return session

    def valid_session(self, authorization: str | None) -> Session | None:
        raw = (authorization or "").removeprefix("Bearer ").strip()
        with self._lock:
            session = self._sessions.get(raw)
        return session if session and session.valid else None

    def invalidate_sessions(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.valid = False

    def login(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        creds = self.credentials
        if headers.get("X-PrivateKey") != creds.api_key:
            return 200, {
                "success": False,
                "message": "Invalid API Key",
                "errorCode": "AG8004",
                "data": "",
            }
        problem = None
        if body.get("clientcode") != creds.client_id:
            problem = ("Invalid clientcode", "AB1001")  # wording as the service reports it
        elif body.get("password") != creds.password:
            problem = ("Invalid Password", "AB1000")
        elif not pyotp.TOTP(creds.totp_key).verify(str(body.get("totp", "")), valid_window=1):
            problem = ("Invalid totp", "AB1050")
        if problem:
            self.failed_logins.append(problem[1])
            return 200, {
                "status": False,
                "message": problem[0],
                "errorcode": problem[1],
                "data": None,
            }
        self.logins += 1
        return 200, _success(_token_data(self.issue_session()))

    def profile(self, headers: Any) -> tuple[int, dict[str, Any]]:
        if self.valid_session(headers.get("Authorization")) is None:
            return 403, _invalid_token()
        data = {
            "clientcode": self.credentials.client_id,
            "name": "PEER TRADER",
            "email": "",
            "mobileno": "",
            "exchanges": ["nse_cm", "bse_cm", "nse_fo"],
            "products": ["MARGIN", "MIS", "NRML", "CNC", "CO", "BO"],
            "lastlogintime": "",
            "brokerid": "B2C",
        }
        return 200, _success(data)

    def refresh(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        current = self.valid_session(headers.get("Authorization"))
        if current is None:
            return 403, _invalid_token()
        if body.get("refreshToken") != current.refresh_token:
            return 200, {
                "status": False,
                "message": "Invalid Refresh Token",
                "errorcode": "AB8050",
                "data": None,
            }
        self.refreshes += 1
        return 200, _success(_token_data(self.issue_session()))

    def candles(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """`getCandleData`: a `peer_candle` for each minute from `fromdate` to `todate` (IST)."""
        if self.valid_session(headers.get("Authorization")) is None:
            return 403, _invalid_token()
        self.candle_requests.append((time.monotonic(), body))
        first = datetime.strptime(body["fromdate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        last = datetime.strptime(body["todate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        count = int((last - first).total_seconds()) // 60 + 1
        return 200, _success([peer_candle(first + timedelta(minutes=i)) for i in range(count)])


def _token_data(session: Session) -> dict[str, Any]:
    return {
        "jwtToken": session.jwt,
        "refreshToken": session.refresh_token,
        "feedToken": session.feed_token,
        "state": None,
    }


def _success(data: Any) -> dict[str, Any]:
    return {"status": True, "message": "SUCCESS", "errorcode": "", "data": data}


def _invalid_token() -> dict[str, Any]:
    return {"success": False, "message": "Invalid Token", "errorCode": "AG8001", "data": ""}
