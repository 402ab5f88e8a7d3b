"""daemon.sdnotify against a real AF_UNIX datagram socket."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from daemon import sdnotify
from daemon.sdnotify import SystemdNotifier, run_watchdog

from .notify_socket import NotifyReceiver


def notifier_for(receiver: NotifyReceiver, **extra: str) -> SystemdNotifier:
    return SystemdNotifier({"NOTIFY_SOCKET": receiver.notify_socket, **extra})


# --- (a) messages and their order -----------------------------------------------------


def test_lifecycle_messages_arrive_in_order(receiver: NotifyReceiver) -> None:
    notifier = notifier_for(receiver)
    assert notifier.enabled

    assert notifier.ready() is True
    assert notifier.status("watching 3 shops") is True
    assert notifier.watchdog() is True
    assert notifier.stopping() is True

    received = [receiver.recv().text for _ in range(4)]
    assert received == ["READY=1", "STATUS=watching 3 shops", "WATCHDOG=1", "STOPPING=1"]
    assert receiver.drain() == []


def test_ready_and_stopping_can_carry_a_status_in_the_same_datagram(
    receiver: NotifyReceiver,
) -> None:
    notifier = notifier_for(receiver)
    notifier.ready(status="watching 2 shops")
    notifier.stopping(status="shutting down")
    assert receiver.recv().text == "READY=1\nSTATUS=watching 2 shops"
    assert receiver.recv().text == "STOPPING=1\nSTATUS=shutting down"


def test_reload_sends_reloading_with_monotonic_usec_then_ready(receiver: NotifyReceiver) -> None:
    notifier = notifier_for(receiver)
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.reloading() is True
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.ready_after_reload() is True

    reloading = receiver.recv().text.split("\n")
    assert reloading[0] == "RELOADING=1"
    key, _, value = reloading[1].partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after
    assert len(reloading) == 2
    assert receiver.recv().text == "READY=1"


def test_status_cannot_inject_further_assignments(receiver: NotifyReceiver) -> None:
    notifier = notifier_for(receiver)
    notifier.status("stream failed: boom\nSTOPPING=1\r\nREADY=1")
    text = receiver.recv().text
    assert "\n" not in text
    assert text == "STATUS=stream failed: boom STOPPING=1 READY=1"


def test_extend_timeout(receiver: NotifyReceiver) -> None:
    notifier = notifier_for(receiver)
    assert notifier.extend_timeout(90) is True
    assert notifier.extend_timeout(0) is False
    assert receiver.recv().text == "EXTEND_TIMEOUT_USEC=90000000"
    assert receiver.drain() == []


def test_watchdog_honours_watchdog_pid(receiver: NotifyReceiver) -> None:
    other = notifier_for(receiver, WATCHDOG_USEC="30000000", WATCHDOG_PID=str(os.getpid() + 1))
    assert other.watchdog_interval() is None
    assert other.watchdog() is False
    assert receiver.drain() == []

    me = notifier_for(receiver, WATCHDOG_USEC="30000000", WATCHDOG_PID=str(os.getpid()))
    assert me.watchdog_interval() == 30.0
    assert me.watchdog() is True
    assert receiver.recv().text == "WATCHDOG=1"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "thirty"}, None),
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "200000"}, 0.2),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "not-a-pid"}, None),
    ],
)
def test_watchdog_interval_parsing(env: dict[str, str], expected: float | None) -> None:
    assert SystemdNotifier(env).watchdog_interval() == expected


# --- (b) no-op outside systemd, never raising ------------------------------------------


def _all_senders(notifier: SystemdNotifier) -> list[bool]:
    return [
        notifier.ready(),
        notifier.status("x"),
        notifier.watchdog(),
        notifier.stopping(),
        notifier.reloading(),
        notifier.ready_after_reload(),
        notifier.extend_timeout(1),
    ]


def test_noop_without_notify_socket_and_no_socket_is_created(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)

    def no_socket(*args: object, **kwargs: object) -> socket.socket:
        raise AssertionError("a socket was created outside systemd")

    monkeypatch.setattr("daemon.sdnotify.socket.socket", no_socket)
    notifier = SystemdNotifier()  # reads os.environ
    assert notifier.enabled is False
    assert notifier.watchdog_interval() is None
    assert _all_senders(notifier) == [False] * 7


@pytest.mark.parametrize("value", ["", "relative/path", "@", "vsock:2:1234"])
def test_unusable_notify_socket_values_are_a_noop(value: str) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": value})
    assert notifier.enabled is False
    assert _all_senders(notifier) == [False] * 7


@pytest.mark.parametrize(
    "value",
    [
        "/nonexistent/shopwatch-notify",  # ENOENT
        "/tmp/embedded\0nul",  # the kernel stops at the NUL: ENOENT
        "@shopwatch-test-nobody-listens",  # ECONNREFUSED
        "/" + "x" * 200,  # path longer than sun_path
    ],
)
def test_failing_socket_returns_false_and_never_raises(value: str) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "1000000"})
    assert notifier.enabled is True
    assert _all_senders(notifier) == [False] * 7


def test_full_manager_queue_gives_up_after_the_send_timeout(
    receiver: NotifyReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wedged manager must not block the event loop forever: the send times out."""
    monkeypatch.setattr(sdnotify, "SEND_TIMEOUT_SECONDS", 0.01)
    notifier = notifier_for(receiver)
    results: list[bool] = []
    for _ in range(100_000):  # the kernel queue holds far fewer (net.unix.max_dgram_qlen)
        results.append(notifier.watchdog())
        if not results[-1]:
            break
    assert results[-1] is False
    assert all(results[:-1])
    # The messages that were accepted are all there and well-formed.
    assert {d.text for d in receiver.drain()} == {"WATCHDOG=1"}


def test_socket_is_closed_after_each_send(receiver: NotifyReceiver) -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    notifier = notifier_for(receiver)
    assert notifier.status("warm-up")
    before = open_fds()
    for _ in range(20):
        assert notifier.status("x")
        receiver.drain()  # the kernel queue is short (net.unix.max_dgram_qlen)
    assert open_fds() == before


# --- (c) the watchdog coroutine --------------------------------------------------------


class _Stop(Exception):
    pass


async def test_watchdog_pings_first_then_every_half_interval(receiver: NotifyReceiver) -> None:
    notifier = notifier_for(receiver, WATCHDOG_USEC="30000000")
    delays: list[float] = []
    pings_at_each_sleep: list[int] = []
    received: list[str] = []

    async def fake_sleep(delay: float) -> None:
        received.extend(d.text for d in receiver.drain())
        pings_at_each_sleep.append(len(received))
        delays.append(delay)
        if len(delays) == 4:
            raise _Stop

    with pytest.raises(_Stop):
        await run_watchdog(notifier, sleep=fake_sleep)

    assert delays == [15.0] * 4
    # Exactly one ping before every sleep, the first one immediately.
    assert pings_at_each_sleep == [1, 2, 3, 4]
    assert received == ["WATCHDOG=1"] * 4


@pytest.mark.parametrize(
    "env",
    [
        {"NOTIFY_SOCKET": "@x"},  # no WATCHDOG_USEC
        {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "0"},
        {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"},
        {"WATCHDOG_USEC": "30000000"},  # no NOTIFY_SOCKET: nobody to ping
        {},
    ],
)
async def test_watchdog_returns_immediately_when_not_configured(env: dict[str, str]) -> None:
    async def must_not_sleep(delay: float) -> None:
        raise AssertionError("run_watchdog slept although no watchdog is configured")

    await asyncio.wait_for(run_watchdog(SystemdNotifier(env), sleep=must_not_sleep), 1)


async def test_watchdog_task_stops_on_cancel(receiver: NotifyReceiver) -> None:
    notifier = notifier_for(receiver, WATCHDOG_USEC="3600000000")
    task = asyncio.create_task(run_watchdog(notifier))
    first = await receiver.recv_async()
    assert first.text == "WATCHDOG=1"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_blocked_event_loop_stops_the_pings(receiver: NotifyReceiver) -> None:
    """The point of pinging from the loop: a blocked loop must go silent.

    Determinism comes from the loop itself, not from timing: while a coroutine runs
    synchronous code, no other task (the watchdog included) can run, so nothing may
    arrive between the two ``drain()`` calls around ``time.sleep``. The kernel receive
    timestamps are a second, independent check of the same fact.
    """
    notifier = notifier_for(receiver, WATCHDOG_USEC="200000")  # pings every 100 ms
    block_seconds = 0.6  # six ping periods
    task = asyncio.create_task(run_watchdog(notifier))
    try:
        # The watchdog is alive: two pings while the loop is free.
        seen = [await receiver.recv_async(), await receiver.recv_async()]

        # Block the loop (deliberately synchronous).
        seen += receiver.drain()
        block_start = time.time()
        time.sleep(block_seconds)  # noqa: ASYNC251 - blocking the loop is the point
        block_end = time.time()
        during_block = receiver.drain()

        assert during_block == [], "the watchdog pinged while the event loop was blocked"

        # Once the loop runs again, the pings resume.
        after = [await receiver.recv_async(), await receiver.recv_async()]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert {d.text for d in seen + after} == {"WATCHDOG=1"}
    assert all(d.timestamp < block_start for d in seen)
    assert all(d.timestamp > block_end for d in after)
    # The gap spanning the block is at least the block, i.e. no ping in the window.
    assert after[0].timestamp - seen[-1].timestamp >= block_seconds
