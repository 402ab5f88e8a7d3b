"""Logging: structlog everywhere, stdlib loggers (aiohttp, apscheduler, sqlalchemy, alembic)
routed through the same chain. JSON lines when not on a terminal (journald, files), readable
console output on one. Secrets never reach a log call: only paths to them do."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import structlog
import structlog.tracebacks


def configure(*, level: str = "INFO", json: bool | None = None) -> None:
    if json is None:
        json = not sys.stderr.isatty()
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.typing.Processor
    if json:
        # Locals stay out of tracebacks: they could hold a token or a buyer's message.
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer()
    structlog.configure(
        # A line below the level is dropped before any processor runs: the evaluator sends
        # each violation of a back-fill to debug.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Chatty libraries: their INFO lines are per request or per job run.
    for name in ("aiohttp.access", "apscheduler.executors", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Its warnings are "skipped: previous run still going", counted in
    # shopwatch_jobs_skipped_total instead of a log line per occurrence.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    throttle_request_errors()


class _OncePerInterval(logging.Filter):
    """Lets a record whose message starts with ``prefix`` through at most once per
    ``every`` seconds, saying how many were dropped since; other records pass."""

    def __init__(
        self, prefix: str, every: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self.every = every
        self.monotonic = monotonic
        self.dropped = 0
        self._last: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.prefix):
            return True
        now = self.monotonic()
        if self._last is not None and now - self._last < self.every:
            self.dropped += 1
            return False
        if self.dropped:
            record.msg = f"{record.msg} ({self.dropped} more since the last one, not logged)"
        self._last, self.dropped = now, 0
        return True


def throttle_request_errors(every: float = 60.0) -> logging.Filter:
    """aiohttp logs every malformed request (a bad header, a slow client cut off) with its
    traceback: a flood of them was hundreds of megabytes of log. Once a minute says it."""
    server = logging.getLogger("aiohttp.server")
    for old in [f for f in server.filters if isinstance(f, _OncePerInterval)]:
        server.removeFilter(old)
    throttle = _OncePerInterval("Error handling request", every)
    server.addFilter(throttle)
    return throttle


class Throttled:
    """A log line for an event that can come in floods (failed sign-ins, refused
    connections): at most one line per ``every`` seconds, saying how many were not logged.
    Metrics count every one; the log only has to say that it happens."""

    def __init__(
        self,
        logger: Any,
        *,
        every: float = 60.0,
        level: str = "warning",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self.level = level
        self.monotonic = monotonic
        self.suppressed = 0
        self._last: float | None = None

    def __call__(self, event: str, **fields: Any) -> bool:
        """Log ``event`` unless one was logged within ``every`` seconds; True if logged."""
        now = self.monotonic()
        if self._last is not None and now - self._last < self.every:
            self.suppressed += 1
            return False
        if self.suppressed:
            fields["not_logged_since_last"] = self.suppressed
        getattr(self.logger, self.level)(event, **fields)
        self._last, self.suppressed = now, 0
        return True
