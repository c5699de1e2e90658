"""The project's daphne (`live/server.py`) through a real process: form bodies reach the
application unparsed (a multipart body Twisted's parser refuses is answered by the
application), Django still parses the admin's forms, and `/ws` clients get every tick while a
body of 100,000 form parts is posted. How long stock daphne stalls on that body, and that this
server does not, is measured by `make prod-check` (deploy/check.py), not here."""

import http.client
import json
import re
import threading
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from accounts.models import User
from marketdata.live import publish
from marketdata.tests.live.helpers import access_token, open_ws, recv_json, subscribe, tick

ADMIN_PASSWORD = "Admin-Password-8"
NOT_ALLOWED = {"detail": 'Method "POST" not allowed.', "errors": {}}
TOO_LARGE = {"detail": "The request body is larger than 65536 bytes.", "errors": {}}


def multipart(fields: list[tuple[str, str]], boundary: str = "b0undary") -> tuple[bytes, str]:
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields
    )
    return parts + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, body, headers or {})
    response = connection.getresponse()
    response.read()  # kept on the response object, for the caller
    connection.close()
    return response


def post_json_answer(port: int, body: bytes, content_type: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/health", body, {"Content-Type": content_type})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture
def port(live_url) -> int:
    return urlsplit(live_url).port


@pytest.fixture
def admin(live_db) -> User:
    """A staff user whose password the server (with the default hashers) can check."""
    user = User.objects.create_user("admin@example.com", None, name="Admin", is_staff=True)
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(ADMIN_PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    return user


def test_a_malformed_multipart_body_is_answered_by_the_application(port):
    # Twisted's parser would have refused it with a bare 400 and closed the connection.
    status, body = post_json_answer(port, b"no parts at all", "multipart/form-data; boundary=x")

    assert (status, body) == (405, NOT_ALLOWED)


def test_ticks_keep_flowing_while_100000_form_parts_are_posted(port, live_url, trader):
    body, content_type = multipart([(f"field{i}", "x") for i in range(100_000)])
    assert len(body) > 5_000_000
    answers: list[tuple[int, dict]] = []
    with open_ws(live_url, access_token(trader)) as ws:
        subscribe(ws, "NIFTY")
        poster = threading.Thread(
            target=lambda: answers.append(post_json_answer(port, body, content_type))
        )
        poster.start()
        published = [tick("NIFTY", 23500.0 + i) for i in range(20)]
        for one in published:
            publish.ticks_publish(ticks=[one])
        received = [recv_json(ws)["tick"]["ltpc"] for _ in published]
        poster.join(timeout=60)

    assert answers == [(413, TOO_LARGE)]  # refused by the application, by its declared size
    assert received == [one.ltpc for one in published]


def test_django_parses_the_admin_login_form_itself(port, admin):
    page = request(port, "GET", "/admin/login/")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"]).group(1)
    body, content_type = multipart(
        [
            ("csrfmiddlewaretoken", csrf_cookie),
            ("username", admin.email),
            ("password", ADMIN_PASSWORD),
            ("next", "/admin/"),
        ]
    )

    answer = request(
        port,
        "POST",
        "/admin/login/",
        body,
        {"Content-Type": content_type, "Cookie": f"csrftoken={csrf_cookie}"},
    )

    assert answer.status == 302
    assert answer.headers["Location"] == "/admin/"
    assert any(c.startswith("sessionid=") for c in answer.headers.get_all("Set-Cookie"))
