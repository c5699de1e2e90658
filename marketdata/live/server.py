"""daphne without Twisted's form parsing: the server `manage.py serve` runs.

Twisted's `Request.requestReceived` parses a POST body declared as
`application/x-www-form-urlencoded` or `multipart/form-data` into `request.args` before daphne
sees the request, in the reactor thread: the event loop that every `/ws` client (and, under
`serve`, the embedded feed) shares. A 5.7 MB multipart body of 100,000 parts, sent to `/health`
without a token, froze that loop for seconds, and a malformed one was answered by Twisted
itself. daphne never reads `args`: it hands the raw body to the ASGI application, and Django
parses the admin's forms itself, in a worker thread and within its own limits
(`DATA_UPLOAD_MAX_NUMBER_FIELDS`, `DATA_UPLOAD_MAX_MEMORY_SIZE`), while the API takes JSON
only. So this server turns Twisted's parsing off for every request.

`python -m marketdata.live.server` takes daphne's whole command line (`--fd`, `--bind`,
`--port`, `--proxy-headers`, ..., then the application) and runs this server instead of
daphne's; the tests and benchmarks start it that way.
"""

# daphne.server installs Twisted's asyncio reactor: it must come before twisted.web.
import daphne.server  # isort:skip

from typing import Any

import daphne.cli
from twisted.web import http


class Server(daphne.server.Server):
    """daphne's server, with Twisted's parsing of form bodies off for every HTTP request."""

    def protocol_connected(self, protocol: Any) -> None:
        # daphne's WebRequest calls this from its __init__, right after Twisted's
        # Request.__init__ has stored its `parsePOSTFormSubmission` argument (daphne leaves it
        # True) and before any byte of the body is read. WebSocket protocols come here too.
        if isinstance(protocol, http.Request):
            protocol._parsePOSTFormSubmission = False
        super().protocol_connected(protocol)


class CommandLineInterface(daphne.cli.CommandLineInterface):
    """daphne's command line, serving with `Server`."""

    server_class = Server


if __name__ == "__main__":
    CommandLineInterface.entrypoint()
