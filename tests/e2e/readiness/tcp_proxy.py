"""A TCP proxy in a thread that can stop answering (and start again), for outage tests.

``stall()`` makes the backend "unreachable" the hard way: bytes from clients
are swallowed and new connections are accepted but never forwarded, so
clients time out (as with a dead host or a partition, not a clean refusal).
``resume()`` closes the stalled connections and forwards again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class StallingProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.stalled = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> StallingProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop
        ).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stall(self) -> None:
        self.stalled = True

    def resume(self) -> None:
        asyncio.run_coroutine_threadsafe(self._resume(), self._loop).result(5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _resume(self) -> None:
        await self._close_all(keep_server=True)
        self.stalled = False

    async def _close_all(self, keep_server: bool = False) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        if not keep_server and self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.stalled:
            return  # accepted, never answered
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                if not self.stalled:
                    writer.write(data)
                    await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()
