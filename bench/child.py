"""Run one bench phase in its own (spawned) process, talking over a pipe.

Every phase that holds a daemon runs alone in a fresh interpreter, so its peak RSS is the
daemon's own and nothing else in the bench competes with it for its core.
"""

from __future__ import annotations

import multiprocessing
import resource
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

CTX = multiprocessing.get_context("spawn")


def memory() -> dict[str, float | None]:
    """This process's peak and current resident set, MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status = proc_status("self")
    return {"peak_rss_mib": round(peak, 1), **status}


def proc_status(pid: int | str) -> dict[str, float | None]:
    values: dict[str, float | None] = {"vm_hwm_mib": None, "vm_rss_mib": None}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                values["vm_hwm_mib"] = round(int(line.split()[1]) / 1024, 1)
            elif line.startswith("VmRSS:"):
                values["vm_rss_mib"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return values


def _entry(conn: Connection, target: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    try:
        result = target(conn, **kwargs)
        conn.send(("result", result))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class ChildError(RuntimeError):
    pass


class Child:
    """A phase in a child process. ``messages()`` yields what it sends until its result."""

    def __init__(self, target: Callable[..., Any], **kwargs: Any) -> None:
        self.conn, child_conn = CTX.Pipe()
        self.process = CTX.Process(target=_entry, args=(child_conn, target, kwargs), daemon=True)
        self.process.start()
        child_conn.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def recv(self, timeout: float | None = None) -> tuple[str, Any]:
        if timeout is not None and not self.conn.poll(timeout):
            raise TimeoutError("the bench child sent nothing in time")
        try:
            kind, payload = self.conn.recv()
        except EOFError:
            self.process.join(5)
            raise ChildError(f"the bench child died (exit code {self.process.exitcode})") from None
        if kind == "error":
            raise ChildError(payload)
        return kind, payload

    def send(self, message: Any) -> None:
        self.conn.send(message)

    def result(self, timeout: float | None = None) -> Any:
        while True:
            kind, payload = self.recv(timeout)
            if kind == "result":
                self.process.join(30)
                return payload

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def run(target: Callable[..., Any], timeout: float | None = None, **kwargs: Any) -> Any:
    child = Child(target, **kwargs)
    try:
        return child.result(timeout)
    finally:
        child.kill()
