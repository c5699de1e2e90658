"""Angel One's scrip master read as a stream, from a file or from its URL, and synced.

The master is one JSON list of more than 100,000 objects (tens of MB). ijson parses it as the
bytes arrive (from the file, or from the HTTP response as it downloads), so no step holds the
whole document or the list it describes.
"""

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import ijson
import requests
import urllib3

from marketdata.instruments.sync import InstrumentSyncResult, instruments_sync

DOWNLOAD_TIMEOUT = (10, 120)  # seconds: to connect, and between two reads of the stream
_WHITESPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_PEEK_BYTES = 4096


class MasterUnreadableError(Exception):
    """The master could not be read to its end: a missing file, a refused, failed or cut-off
    download, or text that is not a JSON list."""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Rejoined:
    """The bytes already read to look at the document's start, then the rest of the stream."""

    def __init__(self, head: bytes, rest: _Readable) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing to tell bytes from text
            return b""
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._rest.read(size)


def _list_start(stream: _Readable, *, source: str) -> bytes:
    """The stream's first bytes (without a byte-order mark, which ijson refuses), once they
    show a JSON list begins."""
    head = b""
    while not (significant := head.removeprefix(_BOM).lstrip(_WHITESPACE)):
        chunk = stream.read(_PEEK_BYTES)
        if not chunk:
            break
        head += chunk
    if not significant.startswith(b"["):
        raise MasterUnreadableError(f"The instrument master from {source} is not a JSON list.")
    return significant


def master_records(stream: _Readable, *, source: str) -> Iterator[Any]:
    """Each element of the JSON list in `stream`, parsed as it is read; MasterUnreadableError if
    the stream is not a JSON list or fails before its end."""
    try:
        head = _list_start(stream, source=source)
        yield from ijson.items(_Rejoined(head, stream), "item", use_float=True)
    except (ijson.JSONError, OSError, urllib3.exceptions.HTTPError) as error:
        raise MasterUnreadableError(
            f"Cannot read the instrument master from {source}: {error}"
        ) from None


def instruments_sync_file(*, path: Path, today: date | None = None) -> InstrumentSyncResult:
    """`instruments_sync` from a downloaded OpenAPIScripMaster.json."""
    try:
        stream: BinaryIO = path.open("rb")
    except OSError as error:
        raise MasterUnreadableError(f"Cannot read {path}: {error}") from None
    with stream:
        return instruments_sync(records=master_records(stream, source=str(path)), today=today)


def instruments_sync_url(*, url: str, today: date | None = None) -> InstrumentSyncResult:
    """`instruments_sync` from the master's URL, parsed as it downloads."""
    try:
        response = requests.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT)
        response.raise_for_status()
    except requests.RequestException as error:
        raise MasterUnreadableError(
            f"Cannot download the instrument master from {url}: {error}"
        ) from None
    with response:
        response.raw.decode_content = True  # a gzip Content-Encoding is undone as it streams
        return instruments_sync(records=master_records(response.raw, source=url), today=today)
