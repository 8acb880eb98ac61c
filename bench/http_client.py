"""A minimal keep-alive HTTP/1.1 client on asyncio streams, for timing.

Used to time the first body byte of streamed answers (wrk cannot) and, when
wrk is not installed, as a fallback load generator. It parses just enough
HTTP/1.1 (status line, Content-Length, chunked) to reuse one connection.

>>> # conn = await Connection.open("127.0.0.1", 8080)
>>> # status, first_byte_s, total_s = await conn.post("/v1/chat/completions", body, headers)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from urllib.parse import urlsplit


class Connection:
    """One kept-alive connection to ``host:port``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader = reader
        self._writer = writer
        self._host = host
        self._address: tuple[str, int] = ("127.0.0.1", 80)
        self._closed = False

    @classmethod
    async def open(cls, url: str) -> Connection:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        conn = cls(reader, writer, f"{host}:{port}")
        conn._address = (host, port)
        return conn

    async def _reconnect(self) -> None:
        await self.close()
        host, port = self._address
        self._reader, self._writer = await asyncio.open_connection(host, port, limit=1 << 20)
        self._closed = False

    async def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, float, float]:
        """Send one POST; return (status, seconds to first body byte, seconds in total).

        A connection the server closed while idle is reopened and the request sent again.
        """
        if self._closed:
            await self._reconnect()
        try:
            return await self._post(path, body, headers)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                raise
            await self._reconnect()
            return await self._post(path, body, headers)

    async def _post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, float, float]:
        lines = [f"POST {path} HTTP/1.1", f"Host: {self._host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        started = time.perf_counter()
        self._writer.write(head + body)
        reader = self._reader
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = -1
        chunked = False
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                self._closed = True
        first = 0.0
        if chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                if not first:
                    first = time.perf_counter() - started
                await reader.readexactly(size + 2)
        elif length > 0:
            await reader.readexactly(1)
            first = time.perf_counter() - started
            await reader.readexactly(length - 1)
        elif length < 0:  # no length: the body runs to the end of the connection
            if await reader.read(1):
                first = time.perf_counter() - started
                await reader.read()
            self._closed = True
        return status, first, time.perf_counter() - started

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of already sorted values."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]
