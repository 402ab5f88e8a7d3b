"""The HTTP listener, hardened against slow and many connections.

A client that opens connections and sends headers a byte at a time (or never) holds a file
descriptor each; with enough of them the daemon cannot open the sockets and files it polls
and writes with. So:

- a connection must deliver its first request's headers within ``idle_timeout``, and may sit
  idle between requests no longer than that (aiohttp's keep-alive timeout);
- at most ``max_connections`` are held at once: one more evicts the oldest connection that
  has not sent a request yet, or, if all have, is answered 503 and closed at once;
- asyncio accepts up to ``backlog`` connections per wake-up, each a descriptor before any
  cap is applied, and a flood keeps two or three such bursts in flight: the backlog is
  sized from the descriptors left over (:func:`accept_backlog`), not fixed at 128;
- when descriptors do run out anyway, asyncio's "socket.accept() out of system resource"
  is logged once a minute with a count, not once per attempt.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Awaitable, Callable
from typing import Any, cast

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from daemon.logs import Throttled

log = structlog.get_logger("shopwatch.http")

ACCEPT_ERROR = "socket.accept() out of system resource"
"""asyncio's message when accept() fails for lack of descriptors (EMFILE, ENFILE, …)."""

_BUSY_BODY = b'{"error": "too many connections; try again shortly"}'
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


class _Busy(asyncio.Protocol):
    """Answers a connection over the cap with 503 and closes it: it holds no descriptor."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.Transport, transport).write(BUSY)
        transport.close()


class ConnectionLimits:
    """The listener's limits, and which connections have not delivered a request yet.

    At the cap, a new connection evicts the oldest one still waiting for its first
    request's headers (a slow client's, most likely) instead of being turned away: a
    monitoring probe or a person gets in even while slow connections fill the listener.
    Only when every held connection has delivered a request is the new one answered 503.

    asyncio makes a connection's protocol (here) and schedules its ``connection_made`` for
    the next turn of the loop, and accepts in bursts: until then aiohttp does not count the
    connection in ``server.connections``. Those are counted here as not yet made, so a burst
    cannot exceed the cap, and one of them that is evicted is closed once its transport
    exists (closing it before would leave its socket open until the idle timeout)."""

    def __init__(self, *, max_connections: int, first_request_timeout: float) -> None:
        self.max_connections = max_connections
        self.first_request_timeout = first_request_timeout
        self.refused = 0
        self.evicted = 0
        self.expired = 0
        self._waiting: dict[RequestHandler, None] = {}  # oldest first
        self._unmade: set[RequestHandler] = set()
        self._log = Throttled(log)

    def middleware(self) -> Any:
        """The app's first middleware: the connection delivered a whole request in time."""

        @web.middleware
        async def served(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            self._waiting.pop(request.protocol, None)
            return await handler(request)

        return served

    def connection(self, server: web.Server) -> asyncio.BaseProtocol:
        """The protocol for a new connection: aiohttp's, or a 503 when nothing can go."""
        loop = asyncio.get_running_loop()
        if len(server.connections) + len(self._unmade) >= self.max_connections:
            if not self._waiting:
                self.refused += 1
                self._log("connection refused: too many open", max_connections=self.max_connections)
                return _Busy()
            oldest = next(iter(self._waiting))
            del self._waiting[oldest]
            self.evicted += 1
            self._log(
                "connection closed: it sent no request and the listener is full",
                max_connections=self.max_connections,
                hint="[http] max_connections; a flood of slow clients?",
            )
            _close(oldest)
        handler = server()
        self._waiting[handler] = None
        self._unmade.add(handler)
        # Runs just before its connection_made, scheduled next by the transport asyncio is
        # about to make: nothing can ask for a connection in between.
        loop.call_soon(self._unmade.discard, handler)
        loop.call_later(self.first_request_timeout, self._expire, handler)
        return handler

    def _expire(self, handler: RequestHandler) -> None:
        if handler in self._waiting:
            del self._waiting[handler]
            self.expired += 1
            _close(handler)


def _close(handler: RequestHandler) -> None:
    if handler.transport is None:
        # Accepted in this same burst: its connection_made is already scheduled, and a
        # handler closed before it would never close the socket it is then given.
        asyncio.get_running_loop().call_soon(_close_made, handler)
        return
    _close_made(handler)


def _close_made(handler: RequestHandler) -> None:
    handler.force_close()
    if handler.transport is not None:
        handler.transport.close()


RESERVED_DESCRIPTORS = 64
"""Descriptors kept for everything but the listener: the database, the shops' HTTP
clients, the log, the notify socket, Python's own files."""
BURSTS_IN_FLIGHT = 4
"""Accept bursts whose sockets can be open before the cap closes any of them (asyncio
accepts the next burst while the last one's protocols are being made), with room to spare."""


def accept_backlog(max_connections: int, descriptor_limit: int | None = None) -> int:
    """The listen backlog, which is also how many connections asyncio accepts per wake-up:
    128 (aiohttp's default) when descriptors are plentiful, fewer when a flood's bursts
    could otherwise take the descriptors the daemon needs to poll and write (systemd's
    default soft limit is 1,024), never fewer than 8."""
    if descriptor_limit is None:
        descriptor_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if descriptor_limit == resource.RLIM_INFINITY:
            return 128
    spare = descriptor_limit - max_connections - RESERVED_DESCRIPTORS
    return max(8, min(128, spare // BURSTS_IN_FLIGHT))


class CappedSite(web.BaseSite):
    """A TCP site whose connections go through :class:`ConnectionLimits`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        limits: ConnectionLimits,
        backlog: int | None = None,
    ) -> None:
        if backlog is None:
            backlog = accept_backlog(limits.max_connections)
        super().__init__(runner, backlog=backlog)
        self.host = host
        self.port = port
        self.limits = limits

    @property
    def name(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: self.limits.connection(server),
            self.host,
            self.port,
            backlog=self._backlog,
            reuse_address=True,
        )


def throttle_accept_errors(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Log asyncio's accept() failures at most once a minute (each is retried after a
    second; under a descriptor flood that was megabytes of log). Returns the undo."""
    throttled = Throttled(log, level="error")
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_ERROR:
            throttled(
                "cannot accept connections: out of file descriptors",
                error=str(context.get("exception")),
                hint="too many open connections or files; see process_open_fds",
            )
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)

    def undo() -> None:
        loop.set_exception_handler(previous)

    return undo
