"""shopwatch as an operator installs it: a wheel built from the checkout, installed (not
editable) into a fresh virtualenv, run from a directory outside the checkout.

Every other test imports the source tree, where files beside the code are always found; this
one proves the package carries everything it reads at run time (the policy catalogue, the
migrations, the demo config). It builds an sdist and a wheel with ``python -m build`` and
installs the wheel's dependencies from the package index, so it runs in CI
(``SHOPWATCH_REQUIRE_INTEGRATION=1``) and locally only with ``SHOPWATCH_TEST_INSTALL=1``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("SHOPWATCH_REQUIRE_INTEGRATION") == "1"
WANTED = REQUIRED or os.environ.get("SHOPWATCH_TEST_INSTALL") == "1"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not WANTED, reason="builds and installs a wheel: set SHOPWATCH_TEST_INSTALL=1"
    ),
]


def _run(*args: str | Path, cwd: Path, timeout: float = 600, **kw: object) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,  # type: ignore[arg-type]
    )
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` directory of a fresh venv with the wheel installed."""
    work = tmp_path_factory.mktemp("install")
    dist = work / "dist"
    _run(sys.executable, "-m", "build", "--outdir", dist, ROOT, cwd=work)
    wheels = sorted(dist.glob("shopwatch-*.whl"))
    sdists = sorted(dist.glob("shopwatch-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=work)
    _run(venv / "bin" / "pip", "install", "--quiet", wheels[0], cwd=work)
    return venv / "bin"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory with nothing of the checkout in it."""
    assert not tmp_path.resolve().is_relative_to(ROOT)
    return tmp_path


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def _wait_for(predicate: object, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if predicate():  # type: ignore[operator]
                return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Process:
    """A command running in the background, its output going to a file (never a pipe that
    could fill up and stall it)."""

    popen: subprocess.Popen[bytes]
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def find(self, pattern: str) -> re.Match[str] | None:
        assert self.popen.poll() is None, f"ended early:\n{self.text()}"
        return re.search(pattern, self.text())

    def stop(self) -> None:
        self.popen.send_signal(signal.SIGTERM)
        assert self.popen.wait(timeout=30) == 0, self.text()


@contextlib.contextmanager
def _process(*args: str | Path, cwd: Path) -> Iterator[Process]:
    output = cwd / f"{Path(str(args[1])).name}-{time.monotonic_ns()}.log"
    with output.open("wb") as sink:
        popen = subprocess.Popen(
            [str(a) for a in args],
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        yield Process(popen, output)
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(timeout=10)


def test_the_package_carries_no_source_tree_paths(installed: Path, outside: Path) -> None:
    python = installed / "python"
    code = (
        "import daemon, checks, connectors; from importlib import resources; "
        "print(daemon.__file__); "
        "print((resources.files('daemon.scoring') / 'policy.toml').is_file()); "
        "print((resources.files('daemon.simulator') / 'demo.toml').is_file()); "
        "print((resources.files('daemon.store') / 'migrations' / 'env.py').is_file())"
    )
    lines = _run(python, "-c", code, cwd=outside).split()
    assert "site-packages" in lines[0] and not Path(lines[0]).is_relative_to(ROOT)
    assert lines[1:] == ["True", "True", "True"]


def test_check_config_rules_db_upgrade_simulate_and_run(installed: Path, outside: Path) -> None:
    shopwatch = installed / "shopwatch"
    assert "CS101" in _run(shopwatch, "rules", cwd=outside)

    token = outside / "shop-token"
    token.write_text("simulated-shop-token\n")
    token.chmod(0o600)
    (outside / "read-token").write_text("reader-token\n")
    config = outside / "shopwatch.toml"

    def write_config(shop_url: str) -> None:
        config.write_text(
            f"""
timezone = "Asia/Shanghai"
[database]
url = "sqlite+aiosqlite:///{outside / "state" / "shopwatch.db"}"
[http]
listen = "127.0.0.1:0"
read_token_file = "read-token"
[evaluation]
interval = "2s"
[[shops]]
id = "sim"
[shops.orders]
kind = "generic"
base_url = "{shop_url}"
token_file = "shop-token"
poll_interval = "2s"
backfill = "48h"
settle = "1s"
[shops.chat]
kind = "generic"
base_url = "{shop_url}"
token_file = "shop-token"
poll_interval = "2s"
backfill = "48h"
settle = "1s"
[[agents]]
id = "op1"
[[agents]]
id = "op2"
[[shifts]]
name = "day"
start = "00:00"
end = "23:59"
agents = ["op1", "op2"]
"""
        )

    # The simulator simulates this config's roster (op1, op2; the demo's are a1, a2, ...);
    # its shop's address, known once it listens, goes into the config afterwards.
    write_config("http://127.0.0.1:1")
    with _process(
        shopwatch,
        "simulate",
        "--config",
        config,
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        token,
        cwd=outside,
    ) as simulator:
        _wait_for(
            lambda: simulator.find(r"simulated shop at (http://127\.0\.0\.1:\d+)"),
            seconds=60,
            what="the simulator's address",
        )
        served = simulator.find(r"simulated shop at (http://127\.0\.0\.1:\d+)")
        assert served is not None
        shop_url = served.group(1)
        status, body = _get(f"{shop_url}/agents", "simulated-shop-token")
        assert status == 200, body
        agents = {agent["id"] for agent in json.loads(body)["agents"]}
        assert agents and agents <= {"op1", "op2"}, agents
        assert _get(f"{shop_url}/agents", "wrong-token")[0] == 401

        write_config(shop_url)
        (outside / "state").mkdir()
        assert "OK" in _run(shopwatch, "check-config", "--secrets", config, cwd=outside)
        _run(shopwatch, "db", "upgrade", "--config", config, cwd=outside)
        assert (outside / "state" / "shopwatch.db").is_file()

        with _process(shopwatch, "run", "--config", config, cwd=outside) as daemon:

            def address() -> str | None:
                assert daemon.popen.poll() is None, daemon.text()
                for line in daemon.text().splitlines():
                    if "shopwatch started" in line:
                        return str(json.loads(line)["listen"])
                return None

            _wait_for(address, seconds=60, what="the daemon's start line")
            base = f"http://{address()}"
            _wait_for(lambda: _get(f"{base}/readyz")[0] == 200, seconds=60, what="/readyz 200")

            def violations() -> object:
                return json.loads(_get(f"{base}/api/violations", "reader-token")[1])["violations"]

            _wait_for(
                violations,
                seconds=60,
                what="the first violations",
            )
            # The console's pages, templates, catalogue and static files come from the wheel.
            status, page = _get(f"{base}/login")
            assert status == 200 and "登录" in page.decode("utf-8"), page[:500]
            assert _get(f"{base}/static/console.css")[0] == 200
            status, metrics = _get(f"{base}/metrics")
            assert status == 200 and b"shopwatch_violations_total" in metrics
            daemon.stop()
        simulator.stop()


def test_demo_runs_from_anywhere(installed: Path, outside: Path) -> None:
    if (
        shutil.which("ss")
        and "9310"
        in subprocess.run(["ss", "-ltn"], capture_output=True, text=True, check=False).stdout
    ):
        pytest.fail("port 9310 is taken: stop the other demo first")
    with _process(installed / "shopwatch", "demo", cwd=outside) as demo:
        _wait_for(
            lambda: _get("http://127.0.0.1:9310/readyz")[0] == 200, seconds=60, what="demo ready"
        )
        assert (outside / "var" / "demo" / "demo.toml").is_file()
        assert oct((outside / "var" / "demo" / "api-token").stat().st_mode & 0o777) == "0o600"
        # The console: its sign-in page, its stylesheet, and the demo's two people.
        status, page = _get("http://127.0.0.1:9310/login")
        assert status == 200 and "登录" in page.decode("utf-8")
        assert _get("http://127.0.0.1:9310/static/console.css")[0] == 200
        logins = outside / "var" / "demo" / "console-login.txt"
        _wait_for(logins.is_file, seconds=30, what="console-login.txt")
        assert oct(logins.stat().st_mode & 0o777) == "0o600"
        lines = logins.read_text(encoding="utf-8").splitlines()
        assert [line.split()[0] for line in lines] == ["supervisor", "agent"]
        demo.stop()
