"""Logging: structlog everywhere, stdlib loggers (aiohttp, apscheduler, sqlalchemy, alembic)
routed through the same chain. JSON lines when not on a terminal (journald, files), readable
console output on one. Secrets never reach a log call: only paths to them do."""

from __future__ import annotations

import logging
import sys

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
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
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
