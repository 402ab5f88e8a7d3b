"""A real AF_UNIX datagram socket standing in for systemd's notification socket."""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass

# struct timeval as delivered with SCM_TIMESTAMP (two C longs).
_TIMEVAL = struct.Struct("@ll")
# Python 3.11's socket module has no SO_TIMESTAMP constant; 29 is SO_TIMESTAMP(_OLD)
# in asm-generic, used by x86 and arm among others. SCM_TIMESTAMP, the ancillary
# message type, has the same value.
SO_TIMESTAMP: int = getattr(socket, "SO_TIMESTAMP", 29)

#: Only a bound against hanging forever when something is broken, not a synchroniser.
RECV_TIMEOUT = 5.0


@dataclass(frozen=True)
class Datagram:
    text: str
    #: Kernel receive timestamp (CLOCK_REALTIME, seconds), via SO_TIMESTAMP.
    timestamp: float


class NotifyReceiver:
    """Plays PID 1: binds the socket that ``$NOTIFY_SOCKET`` names."""

    def __init__(self, sock: socket.socket, notify_socket: str) -> None:
        self.sock = sock
        #: The value to put in ``$NOTIFY_SOCKET``.
        self.notify_socket = notify_socket

    def recv(self) -> Datagram:
        """Wait (up to RECV_TIMEOUT) for one datagram; for tests that sent synchronously."""
        self.sock.settimeout(RECV_TIMEOUT)
        try:
            return self._recv_one(0)
        finally:
            self.sock.setblocking(False)

    def drain(self) -> list[Datagram]:
        """Everything queued right now, without waiting."""
        out: list[Datagram] = []
        while True:
            try:
                out.append(self._recv_one(socket.MSG_DONTWAIT))
            except BlockingIOError:
                return out

    async def recv_async(self) -> Datagram:
        """Wait (up to RECV_TIMEOUT) for one datagram without blocking the event loop."""
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()

        def on_readable() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(self.sock.fileno(), on_readable)
        try:
            await asyncio.wait_for(readable, RECV_TIMEOUT)
        finally:
            loop.remove_reader(self.sock.fileno())
        return self._recv_one(socket.MSG_DONTWAIT)

    def _recv_one(self, flags: int) -> Datagram:
        data, ancdata, _msg_flags, _addr = self.sock.recvmsg(
            65536, socket.CMSG_SPACE(_TIMEVAL.size), flags
        )
        timestamp = float("nan")
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP:
                sec, usec = _TIMEVAL.unpack(payload[: _TIMEVAL.size])
                timestamp = sec + usec / 1_000_000
        return Datagram(data.decode("utf-8"), timestamp)


def bound_socket(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
    sock.bind(address)
    sock.setblocking(False)
    return sock
