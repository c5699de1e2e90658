"""A local HTTP server answering JSON, for tests that stand in for a remote API."""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    headers: Message
    body: Any  # the JSON body; {} when there is none or it is not JSON


@dataclass(frozen=True)
class RawBody:
    """An answer sent as these bytes rather than as JSON; `headers` are added to, or replace,
    Content-Type (application/json) and Content-Length (the length of `data`)."""

    data: bytes
    headers: dict[str, str] = field(default_factory=dict)


Answer = Callable[[Request], tuple[int, Any]]


class JsonServer:
    """Answers each request on 127.0.0.1, at a port the OS picks, with `answer(request)`: a
    status and a payload sent as JSON (or a `RawBody`, sent as it is). Serves in a background thread from `start()` to
    `stop()`, or as a context manager."""

    def __init__(self, answer: Answer) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(answer))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "JsonServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> "JsonServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler(answer: Answer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._respond("GET")

        def do_POST(self) -> None:
            self._respond("POST")

        def _respond(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            request = Request(method, self.path.split("?")[0], self.headers, body)
            status, payload = answer(request)
            raw = payload if isinstance(payload, RawBody) else RawBody(json.dumps(payload).encode())
            headers = {
                "Content-Type": "application/json",
                "Content-Length": str(len(raw.data)),
                **raw.headers,
            }
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw.data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the stdlib writes every request to stderr."""

    return Handler
