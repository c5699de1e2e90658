"""Streams for tests that check how much of a body or a file code reads."""

import io


class CountingStream(io.BytesIO):
    """Bytes in memory that count how many of them were read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk
