"""Who may read: every JSON read under /api needs a bearer token (the write token or the
read-only one); /metrics, /healthz, /readyz stay open. Every request must name a host the
daemon answers to (DNS rebinding). Refused credentials are counted and logged, the log
rate-limited."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from tests.conftest import FakeClock

from .support import AUTH, served

OPEN = ("/metrics", "/healthz", "/api/openapi.json")


def api_reads(app_routes: list[tuple[str, str]]) -> list[str]:
    """Every GET under /api the app serves (new endpoints are covered without a change
    here), with a sample id where the path takes one."""
    return [
        path.replace("{id}", "1")
        for method, path in app_routes
        if method == "GET" and path.startswith("/api/") and path not in OPEN
    ]


def routes(api: object) -> list[tuple[str, str]]:
    app = api.daemon.runner.app  # type: ignore[attr-defined]
    return [
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    ]


async def test_every_api_read_needs_a_token_and_the_open_endpoints_stay_open(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with served(tmp_path, clock) as api:
        reads = api_reads(routes(api))
        assert {"/api/violations", "/api/violations/1", "/api/scorecard"} <= set(reads)
        for path in reads:
            status, body = await api.call("GET", path, auth=False)
            assert (status, body["field"]) == (401, "Authorization"), path
            status, body = await api.call(
                "GET", path, auth=False, headers={"Authorization": "Bearer wrong"}
            )
            assert status == 401, path
            status, _ = await api.call("GET", path, params={"month": "2026-11"})
            assert status in (200, 404), path  # violation 1 does not exist
        for path in (*OPEN, "/readyz"):
            async with api.http.get(api.base + path) as r:
                assert r.status in (200, 503), path  # /readyz: 503 until the scheduler runs


async def test_a_read_only_token_reads_but_cannot_write(tmp_path: Path, clock: FakeClock) -> None:
    (tmp_path / "read-token").write_text("reader-secret\n# rotated 2026-11-01\n")
    async with served(tmp_path, clock, read_token_file=tmp_path / "read-token") as api:
        reader = {"Authorization": "Bearer reader-secret"}
        status, _ = await api.call("GET", "/api/violations", auth=False, headers=reader)
        assert status == 200
        status, body = await api.call(
            "POST",
            "/api/violations",
            auth=False,
            headers=reader,
            json={"rule": "M201", "agent": "a1", "at": "2026-11-02T09:00:00+08:00"},
        )
        assert (status, body["field"]) == (403, "Authorization")
        registry = api.daemon.metrics.registry
        failures = "shopwatch_http_auth_failures_total"
        assert registry.get_sample_value(failures, {"reason": "read_only"}) == 1
        status, _ = await api.call("GET", "/api/violations")  # the write token reads too
        assert status == 200


async def test_without_a_token_configured_reads_are_refused(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with served(tmp_path, clock, api_token_file=None) as api:
        status, body = await api.call("GET", "/api/violations")
        assert (status, body["field"]) == (403, "Authorization")
        assert "read_token_file" in body["error"]


async def test_refused_credentials_are_counted_each_and_logged_rarely(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with served(tmp_path, clock) as api:
        with structlog.testing.capture_logs() as logged:
            for _ in range(50):
                await api.call("GET", "/api/violations", auth=False, headers={"Authorization": "x"})
            for _ in range(30):
                await api.call(
                    "GET", "/api/violations", auth=False, headers={"Authorization": "Bearer x"}
                )
        registry = api.daemon.metrics.registry
        failures = "shopwatch_http_auth_failures_total"
        assert registry.get_sample_value(failures, {"reason": "missing"}) == 50
        assert registry.get_sample_value(failures, {"reason": "invalid"}) == 30
        lines = [e for e in logged if e["event"] == "API request refused: credentials"]
        assert len(lines) == 1 and lines[0]["reason"] == "missing"
        assert "x" not in str(lines[0].get("token", ""))  # what was sent is never logged


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost", True),
        ("LOCALHOST:9310", True),
        ("127.0.0.1", True),
        ("[::1]:9310", True),
        ("shopwatch.internal:9310", True),  # [http] allowed_hosts
        ("attacker.example", False),
        ("attacker.example:9310", False),
        ("127.0.0.1.attacker.example", False),
        ("", False),
    ],
)
async def test_a_request_for_another_host_is_refused_everywhere(
    tmp_path: Path, clock: FakeClock, host: str, allowed: bool
) -> None:
    async with served(tmp_path, clock, allowed_hosts=("shopwatch.internal",)) as api:
        for path in ("/metrics", "/healthz", "/api/violations"):
            async with api.http.get(api.base + path, headers={**AUTH, "Host": host}) as r:
                if allowed:
                    assert r.status == 200, (host, path)
                else:
                    assert r.status == 421, (host, path)
                    assert (await r.json())["field"] == "Host"
