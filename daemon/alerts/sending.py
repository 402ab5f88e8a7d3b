"""One receiver's sends, worked off in the background so the evaluator never waits.

The evaluator awaits its listeners inside the rule tick; a DingTalk robot that times out
three times with backoff would otherwise hold back every shop's rules for most of a minute.
So the listener only decides and writes down what to send, then :meth:`SendQueue.put`s it
(no await, no I/O); one task per receiver sends in order. A receiver that hangs delays
only itself. The queue is bounded: when it is full the notice is dropped and counted as a
failed delivery rather than letting memory grow without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import structlog

from daemon.alerts.webhooks import DeliveryError
from daemon.watch.metrics import Metrics

log = structlog.get_logger("shopwatch.alerts")

T = TypeVar("T")

QUEUE_LIMIT = 1000


class SendQueue(Generic[T]):
    def __init__(
        self,
        receiver: str,
        send: Callable[[list[T]], Awaitable[bool]],
        *,
        metrics: Metrics,
        batch_max: int,
        limit: int = QUEUE_LIMIT,
    ) -> None:
        """``send`` gets what is waiting (up to ``batch_max`` items) and returns whether it
        made a delivery (False: nothing was left worth sending); it raises
        :class:`DeliveryError` when the delivery failed for good."""
        self.receiver = receiver
        self.send = send
        self.metrics = metrics
        self.batch_max = batch_max
        self.queue: asyncio.Queue[T] = asyncio.Queue(maxsize=limit)
        self.task: asyncio.Task[None] | None = None
        self.failing = False
        self.closed = False

    def put(self, item: T) -> bool:
        if self.closed:
            return False
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(
                self._run(), name=f"shopwatch-alerts-{self.receiver}"
            )
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.metrics.alert_failures.labels(self.receiver).inc()
            log.warning("alert queue full, notice dropped", receiver=self.receiver)
            return False
        return True

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.batch_max and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self._deliver(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def _deliver(self, batch: list[T]) -> None:
        try:
            delivered = await self.send(batch)
        except DeliveryError as exc:
            self.metrics.alert_failures.labels(self.receiver).inc()
            if not self.failing:  # the first failure is news; the following ones are not
                log.warning("alert delivery failed", receiver=self.receiver, error=str(exc))
            self.failing = True
            return
        except Exception:  # a bug must not kill the worker and silence every later alert
            self.metrics.alert_failures.labels(self.receiver).inc()
            log.exception("alert delivery crashed", receiver=self.receiver)
            return
        if delivered:
            self.metrics.alerts_sent.labels(self.receiver).inc()
            if self.failing:
                log.info("alert delivery recovered", receiver=self.receiver)
            self.failing = False

    async def join(self) -> None:
        """Wait until everything put so far has been handled (tests, shutdown)."""
        await self.queue.join()

    async def aclose(self, grace: float) -> None:
        """Give what is queued ``grace`` seconds to go out, then stop."""
        self.closed = True
        if self.task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), grace)
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
