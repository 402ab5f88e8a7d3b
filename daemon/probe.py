"""``check-config --secrets``'s live probe: does each stream's platform answer, and does it
accept the credentials?

A config can be valid and its token files readable while the daemon still cannot read a
single page: a revoked token, a base URL with a typo, a Chatwoot too old, a Shopify app
without protected customer data access. Each distinct source is asked once, concurrently and
with a short timeout, through its own connector (the same client, signing and checks the
daemon uses), for the first page of a small, read-only listing: orders of the last week (so a
Shopify source can see whether its orders carry the configured buyer key), or chat from now
on. Nothing is written anywhere, and a secret never appears in what is said: a secret's value
found in an error message is masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import structlog

from connectors.base import ReportsBuyerIdentity
from connectors.errors import AuthFailed, BadResponse, ConnectorError, RateLimited, Unavailable
from connectors.model import Stream
from daemon.app import build_source
from daemon.config.secrets import SecretError, read_secret
from daemon.config.settings import Settings, StreamSettings

TIMEOUT_SECONDS = 10.0
"""Per request, and twice that for a whole probe (a Taobao page may add detail requests)."""
PAGE_SIZE = 10
ORDERS_LOOKBACK = timedelta(days=7)
"""How far back orders are listed: far enough for a quiet shop to show a few, whose buyer key
tells whether the platform withholds it."""
CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class Target:
    """One source to probe and every shop stream that reads through the same one."""

    streams: tuple[str, ...]
    """``shops.<id>.<stream>`` of each stream served by it."""
    settings: StreamSettings


def targets(settings: Settings) -> list[Target]:
    """The distinct sources of the config, in config order, but those whose secret files
    cannot be read (``check-config --secrets`` says so already)."""
    found: dict[tuple[object, ...], list[str]] = {}
    first: dict[tuple[object, ...], StreamSettings] = {}
    for shop in settings.shops:
        for stream in (shop.orders, shop.chat):
            name = f"shops.{shop.id}.{stream.stream.value}"
            if not all(os.access(path, os.R_OK) for path in _secret_files(stream)):
                continue
            key = (
                stream.stream,
                stream.kind,
                stream.base_url,
                stream.token_file,
                tuple(sorted(stream.secret_files.items())),
                repr(stream.options),
            )
            found.setdefault(key, []).append(name)
            first.setdefault(key, stream)
    return [Target(streams=tuple(names), settings=first[key]) for key, names in found.items()]


async def probe(settings: Settings) -> tuple[list[str], int]:
    """One line per problem (``shops.s1.orders: credentials refused …``), and how many
    streams answered with their credentials accepted."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def bounded(target: Target) -> str | None:
        async with gate:
            return await _probe(target.settings)

    found = targets(settings)
    with _quiet():
        results = await asyncio.gather(*(bounded(target) for target in found))
    said: dict[str, str] = {}
    ok = 0
    for target, problem in zip(found, results, strict=True):
        if problem is None:
            ok += len(target.streams)
        else:
            said.update((name, _masked(problem, target.settings)) for name in target.streams)
    order = [f"shops.{shop.id}.{s.value}" for shop in settings.shops for s in Stream]
    return [f"{name}: {said[name]}" for name in order if name in said], ok


def _drop(*_: object) -> NoReturn:
    raise structlog.DropEvent


@contextmanager
def _quiet() -> Iterator[None]:
    """Connectors log what they find (a Shopify source warns that no buyer is identified);
    the probe says it in its own line instead of a log line among them."""
    saved = structlog.get_config()
    structlog.configure(processors=[_drop])
    try:
        yield
    finally:
        structlog.configure(**saved)


async def _probe(stream: StreamSettings) -> str | None:
    """What is wrong with the stream's source, or ``None`` when it answered as it should."""
    if stream.kind == "files":
        return _directory_problem(Path(stream.options.path))
    source = build_source(
        dataclasses.replace(stream, timeout=timedelta(seconds=TIMEOUT_SECONDS), page_size=PAGE_SIZE)
    )
    now = datetime.now(UTC)
    try:
        async with asyncio.timeout(2 * TIMEOUT_SECONDS):
            if stream.stream is Stream.ORDERS:
                await source.fetch_orders(now - ORDERS_LOOKBACK, None)  # type: ignore[union-attr]
            else:
                await source.fetch_messages(now, None)  # type: ignore[union-attr]
    except TimeoutError:
        return f"unreachable: no answer within {2 * TIMEOUT_SECONDS:g} s ({stream.base_url})"
    except AuthFailed as error:
        return f"reachable, credentials refused: {error}"
    except RateLimited as error:
        return f"reachable, but throttled, so the credentials are not confirmed: {error}"
    except Unavailable as error:
        return f"unreachable: {error} ({stream.base_url})"
    except BadResponse as error:
        return f"reachable, but the answer is not what {stream.kind} sends: {error}"
    except (ConnectorError, SecretError) as error:
        return f"not probed: {error}"
    except Exception as error:
        # A fault no connector maps (a bug, an odd TLS failure) is still this stream's
        # problem line, not a traceback that hides the other streams' answers.
        return f"not probed: unexpected {type(error).__name__}: {error}"
    finally:
        with contextlib.suppress(Exception):  # closing says nothing about the stream
            await source.aclose()
    if isinstance(source, ReportsBuyerIdentity) and source.identity_problem:
        return "reachable, credentials accepted, but buyers are not identified: " + (
            source.identity_problem
        )
    return None


def _directory_problem(path: Path) -> str | None:
    """A ``files`` stream reads a directory and moves files inside it: it must exist and be
    readable and writable by this user."""
    if not path.is_dir():
        return f"the export directory {path} does not exist (or is no directory)"
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        return f"the export directory {path} is not readable and writable by this user"
    return None


def _secret_files(stream: StreamSettings) -> list[Path]:
    return [*([stream.token_file] if stream.token_file else []), *stream.secret_files.values()]


def _masked(text: str, stream: StreamSettings) -> str:
    """``text`` with the value of every secret the stream reads replaced by ``***``."""
    for path in _secret_files(stream):
        try:
            secret = read_secret(path)
        except SecretError:
            continue
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
