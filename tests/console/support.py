"""A daemon with its console over a small simulated morning, and people to sign in.

The morning is tests/daemon's story (CS101 o-1 attributed to a1, a team-level CS101, CS102,
CS103 …) on SQLite; the users are an agent for a1, one for a2, a supervisor and a lead, with
a cheap argon2 so sign-ins stay fast.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from argon2 import PasswordHasher

from daemon.app import Daemon
from daemon.simulator.world import World
from daemon.store.users import UserBook
from tests.conftest import FakeClock
from tests.daemon.shop import local, story
from tests.daemon.test_end_to_end import daemon_for, run_once

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "correct horse battery"
PEOPLE = (
    ("agent", "li", "a1"),
    ("agent", "wang", "a2"),
    ("supervisor", "chen", None),
    ("lead", "zhou", None),
)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    daemon: Daemon
    base: str
    clock: FakeClock


async def add_people(daemon: Daemon, clock: FakeClock) -> None:
    book = UserBook(daemon.engine, CHEAP)
    for role, name, agent in PEOPLE:
        await book.add(
            name=name,
            role=role,
            password=PASSWORD,
            agent=agent,
            by="test",
            now=clock.now(),
            roster=daemon.settings.roster,
        )


@asynccontextmanager
async def console(clock: FakeClock, tmp_path: Path, **settings: Any) -> AsyncIterator[Console]:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path, **settings) as daemon:
        await run_once(daemon)
        await add_people(daemon, clock)
        host, port = await daemon.serve_http()
        assert daemon.console is not None
        daemon.console.users.hasher = CHEAP  # checks the cheap hashes without rehashing
        yield Console(daemon=daemon, base=f"http://{host}:{port}", clock=clock)


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def sign_in(
    http: aiohttp.ClientSession, base: str, name: str, password: str = PASSWORD
) -> aiohttp.ClientResponse:
    async with http.get(f"{base}/login") as r:
        token = csrf_of(await r.text())
    response = await http.post(
        f"{base}/login",
        data={"name": name, "password": password, "csrf": token, "next": "/"},
        allow_redirects=False,
    )
    await response.read()
    return response


def client() -> aiohttp.ClientSession:
    # A cookie jar that keeps cookies for 127.0.0.1 (aiohttp's default drops IP hosts').
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
