"""The one place that reaches into daphne, Twisted and autobahn internals (the live push's fast path).

Daphne's ASGI `send` never waits for the client, and ASGI says nothing of unsent bytes, so
the consumer reads them from Twisted's transport and writes prepared frames through
autobahn directly. Those attributes are private: they are used only under the exact daphne,
autobahn and Twisted versions pinned in requirements/base.txt, checked once per process.
Under any other server or version, the consumer falls back to plain ASGI sends (no
slow-client detection, no direct sends) and says so in the log at ERROR, once.
"""

import logging
from functools import cache, partial
from importlib import metadata
from typing import Any

logger = logging.getLogger(__name__)

# The versions whose internals this module was written and tested against.
PINNED = {"daphne": "4.2.3", "autobahn": "26.10.2", "Twisted": "26.10.0"}
_PROTOCOL_ATTRIBUTES = ("sendPreparedMessage", "_perMessageCompress", "send_queue", "state")
_TRANSPORT_ATTRIBUTES = ("dataBuffer", "offset", "_tempDataLen", "disconnected", "disconnecting")


def version_mismatches() -> dict[str, str]:
    """Each pinned package whose installed version differs: name -> installed version."""
    found = {}
    for name, pinned in PINNED.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            found[name] = installed
    return found


@cache
def _pinned_versions_installed() -> bool:
    mismatches = version_mismatches()
    if mismatches:
        logger.error(
            "The live push's daphne fast path is off: it needs %s, found %s. Slow clients are "
            "not detected and every send goes through ASGI.",
            PINNED,
            mismatches,
        )
    return not mismatches


_fallback_logged = False


def internals_usable(*, server_protocol: Any) -> bool:
    """True when `server_protocol` is the pinned daphne's autobahn protocol with the private
    attributes the fast path uses; otherwise logs (once) why the fast path is off."""
    global _fallback_logged
    if not _pinned_versions_installed():
        return False
    transport = getattr(server_protocol, "transport", None)
    missing = [a for a in _PROTOCOL_ATTRIBUTES if not hasattr(server_protocol, a)]
    missing += [a for a in _TRANSPORT_ATTRIBUTES if not hasattr(transport, a)]
    if missing and not _fallback_logged:
        _fallback_logged = True
        logger.error(
            "The live push's daphne fast path is off: the server is not daphne, or lacks %s. "
            "Slow clients are not detected and every send goes through ASGI.",
            ", ".join(missing),
        )
    return not missing


class _PreparedFrames:
    """The last message framed for the wire: every client of this process sends the same one."""

    def __init__(self) -> None:
        self._text: str | None = None
        self._frame: Any = None

    def get(self, factory: Any, text: str) -> Any:
        if text is not self._text:
            self._text, self._frame = text, factory.prepareMessage(text.encode())
        return self._frame


_prepared_frames = _PreparedFrames()


class DaphneSocket:
    """What daphne does not expose through ASGI: unsent bytes, direct sends, close reasons.

    Daphne's `send` is `partial(server.handle_reply, protocol)` and never waits for the
    client, so a consumer that only awaited `send` would pile a slow client's ticks up in
    Twisted's write buffer. Under another server (or the test communicator) this degrades to
    "nothing unsent", no direct sends, and a close without a reason.
    """

    def __init__(self, send: Any, *, high_water: int) -> None:
        protocol = send.args[0] if isinstance(send, partial) and send.args else None
        if not hasattr(protocol, "sendPreparedMessage"):
            protocol = None
        self._protocol = protocol if internals_usable(server_protocol=protocol) else None
        self._high_water = high_water

    def is_slow(self) -> bool:
        """More than the high-water mark is still waiting for the client to read it."""
        # None under another server: its missing attributes raise AttributeError below.
        transport: Any = getattr(self._protocol, "transport", None)
        try:
            unsent: int = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        except AttributeError:
            return False
        return unsent > self._high_water

    def is_gone(self) -> bool:
        transport = getattr(self._protocol, "transport", None)
        return bool(transport is None or transport.disconnected or transport.disconnecting)

    def send_if_ready(self, text: str) -> bool:
        """Send now, unless the client is slow or daphne is not the server."""
        protocol = self._protocol
        if protocol is None or protocol.state != protocol.STATE_OPEN or self.is_slow():
            return False
        frame = _prepared_frames.get(protocol.factory, text)
        if protocol._perMessageCompress is None and not protocol.send_queue:
            # What autobahn's sendData does, minus debug-log arguments it formats even when
            # debug logging is off: that formatting was half the cost of a send in bench/ws.
            protocol.transport.write(frame.payloadHybi)
        else:
            protocol.sendPreparedMessage(frame)
        return True

    def close_with_reason(self, code: int, reason: str) -> bool:
        if self._protocol is None:
            return False
        # A close frame has room for 123 bytes of reason.
        self._protocol.sendClose(code=code, reason=reason.encode()[:123].decode(errors="ignore"))
        return True
