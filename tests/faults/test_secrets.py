"""A token file with more than the token in it: its first line is the token; a file whose
first line is no token is refused naming the file. The token never reaches /readyz, an
error string or the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog

from daemon.config.secrets import SecretError, read_secret
from daemon.simulator.world import World
from tests.conftest import FakeClock
from tests.daemon.shop import local, story
from tests.daemon.test_end_to_end import daemon_for

SECRET = "test-token"  # what the simulated shop accepts


@pytest.mark.parametrize(
    "content",
    [f"{SECRET}\n# rotated 2026-11-01\n", f"  {SECRET}  \r\nold-token\n", f"{SECRET}"],
)
def test_a_token_is_the_first_line_of_its_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "token"
    path.write_text(content)
    assert read_secret(path) == SECRET


@pytest.mark.parametrize("content", ["", "\n", f"\n{SECRET}\n", f"te\x01st\n{SECRET}"])
def test_a_file_whose_first_line_is_no_token_is_refused_naming_the_file_only(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "token"
    path.write_text(content)
    with pytest.raises(SecretError) as refused:
        read_secret(path)
    assert str(path) in str(refused.value)
    assert SECRET not in str(refused.value) and "te\x01st" not in str(refused.value)


async def test_a_shop_token_file_with_a_note_under_the_token_polls_and_leaks_nothing(
    clock: FakeClock, tmp_path: Path
) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        (tmp_path / "token").write_text(f"{SECRET}\n# rotated 2026-11-01 by Chen\n")
        with structlog.testing.capture_logs() as logged:
            await daemon.prepare()
            await daemon.poll_all()
        assert daemon.watch is not None
        assert all(not p.failing for p in daemon.watch.pollers), daemon.stream_status()
        assert SECRET not in json.dumps(daemon.readiness()[1]) + repr(logged)


@pytest.mark.parametrize("content", [f"\n{SECRET}\n", f"{SECRET}\x07\n"])
async def test_an_unusable_token_file_fails_the_stream_naming_the_file_never_the_token(
    clock: FakeClock, tmp_path: Path, content: str
) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        (tmp_path / "token").write_text(content)
        with structlog.testing.capture_logs() as logged:
            await daemon.prepare()
            await daemon.poll_all()
        assert daemon.watch is not None
        for poller in daemon.watch.pollers:
            assert poller.failing and poller.auth_failed
            assert poller.last_error is not None and str(tmp_path / "token") in poller.last_error
        shown = json.dumps(daemon.readiness()[1]) + daemon.status_line() + repr(logged)
        assert SECRET not in shown
