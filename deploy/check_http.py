"""`make prod-check`, plain HTTP through nginx: static files, the REST API, the body limits and
the admin login. Each check returns an `Outcome`; none raises for a wrong answer."""

import contextlib
import http.client
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlencode

Address = tuple[str, int]
# The check run's accounts (a superuser among them) get a password of their own each run: a
# check pointed at a lasting database (--database-url) leaves none anyone could know.
PASSWORD = secrets.token_urlsafe(24) + "-Aa1"
KB = 1024


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: bytes
    seconds: float

    @property
    def upstream(self) -> str | None:
        """The server process nginx passed the request to; None when nginx answered itself."""
        return self.headers.get("X-Upstream")

    def json(self) -> Any:
        return json.loads(self.body)

    def cookies(self) -> dict[str, str]:
        found = {}
        for line in self.headers.get_all("Set-Cookie") or []:
            name, _, rest = line.partition("=")
            found[name] = rest.split(";", 1)[0]
        return found


def http_request(
    address: Address,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Answer:
    """One request on its own connection. A server that answers before reading the whole body
    (a 413) may reset the connection while it is still being sent: its answer is read anyway."""
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    started = time.monotonic()
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        data = response.read()
        return Answer(response.status, response.headers, data, time.monotonic() - started)
    finally:
        connection.close()


def post_json(address: Address, path: str, data: object, token: str | None = None) -> Answer:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http_request(address, "POST", path, json.dumps(data).encode(), headers)


def get(address: Address, path: str, token: str | None = None) -> Answer:
    return http_request(
        address, "GET", path, headers={"Authorization": f"Bearer {token}"} if token else {}
    )


def _by(answer: Answer) -> str:
    return f"{answer.status} from {answer.upstream or 'nginx'}"


def static_check(nginx: Address) -> Outcome:
    answer = get(nginx, "/static/admin/css/base.css")
    ok = answer.status == 200 and answer.upstream is None and b"body" in answer.body
    return Outcome("static files", ok, f"/static/admin/css/base.css: {_by(answer)}")


def rest_check(nginx: Address) -> tuple[Outcome, str | None]:
    """Register, log in, read /me and the latest ticks; the access token when it worked."""
    email = f"check-{uuid.uuid4().hex[:12]}@example.com"
    registered = post_json(
        nginx, "/api/v1/auth/register", {"email": email, "name": "Check", "password": PASSWORD}
    )
    login = post_json(nginx, "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    token = login.json().get("access_token") if login.status == 200 else None
    me = get(nginx, "/api/v1/auth/me", token)
    latest = get(nginx, "/api/v1/market-data/latest", token)
    count = len(latest.json()) if latest.status == 200 else 0
    ok = (
        (registered.status, login.status, me.status, latest.status) == (201, 200, 200, 200)
        and me.json().get("email") == email
        and count > 0
    )
    detail = (
        f"register {registered.status}, login {login.status}, me {me.status}, "
        f"market-data/latest {latest.status} ({count} symbols)"
    )
    return Outcome("REST", ok, detail), token if ok else None


def body_limits_check(nginx: Address) -> Outcome:
    """64 KB on the API and 1 MB on the admin, refused by nginx before any server sees them."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    api = http_request(
        nginx, "POST", "/api/v1/auth/login", b"x" * (100 * KB), {"Content-Type": "application/json"}
    )
    admin_ok = http_request(nginx, "POST", "/admin/login/", b"a=" + b"x" * (500 * KB), form)
    admin_big = http_request(nginx, "POST", "/admin/login/", b"a=" + b"x" * (2048 * KB), form)
    ok = (
        (api.status, api.upstream) == (413, None)
        and admin_ok.upstream is not None
        and admin_ok.status < 500
        and (admin_big.status, admin_big.upstream) == (413, None)
    )
    detail = f"API 100 KB: {_by(api)}; admin 500 KB: {_by(admin_ok)}; admin 2 MB: {_by(admin_big)}"
    return Outcome("body limits", ok, detail)


def admin_check(nginx: Address, *, email: str, password: str) -> Outcome:
    """The login page, the login form (parsed by Django), then the admin's index."""
    page = get(nginx, "/admin/login/")
    csrf = page.cookies().get("csrftoken", "")
    fields = {
        "csrfmiddlewaretoken": csrf,
        "username": email,
        "password": password,
        "next": "/admin/",
    }
    body = urlencode(fields).encode()
    login = http_request(
        nginx,
        "POST",
        "/admin/login/",
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"},
    )
    session = login.cookies().get("sessionid", "")
    index = http_request(nginx, "GET", "/admin/", headers={"Cookie": f"sessionid={session}"})
    ok = (
        page.status == 200
        and (login.status, login.headers.get("Location")) == (302, "/admin/")
        and index.status == 200
        and b"Site administration" in index.body
    )
    detail = (
        f"login page {page.status}, login POST {login.status} -> {login.headers.get('Location')}, "
        f"/admin/ {index.status}"
    )
    return Outcome("admin login", ok, detail)
