"""Optional profiling of a bench phase with pyinstrument (installed by hand, not a project
dependency): the full call tree as text, plus flat self-time and inclusive-time tables.

pyinstrument samples the event-loop thread only. SQLite runs in aiosqlite's worker thread,
so database time shows up as ``[await]`` under the store method that awaited it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

PROJECT = ("daemon/", "connectors/", "checks/")


def available() -> bool:
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        return False
    return True


def start() -> Any:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="enabled")
    profiler.start()
    return profiler


def _label(frame: Any) -> str:
    path = frame.file_path or ""
    for marker in PROJECT:
        at = path.rfind("/" + marker)
        if at >= 0:
            return f"{path[at + 1 :]}:{frame.function}"
    short = frame.file_path_short or path
    if "site-packages/" in short:
        short = short.split("site-packages/", 1)[1]
    return f"{short}:{frame.function}"


def summarize(session: Any, top: int = 30) -> dict[str, Any]:
    root = session.root_frame()
    if root is None:
        return {"seconds": 0.0}
    total = root.time or 1e-9
    self_time: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)

    def walk(frame: Any, seen: frozenset[str]) -> None:
        if frame.is_synthetic:
            # "[await]": waiting (network, the SQLite thread, sleeps); "[self]": own time.
            if frame.function != "[self]":
                self_time[frame.function] += frame.time
            return
        key = _label(frame)
        real_children = [c for c in frame.children if not c.is_synthetic]
        waited = sum(c.time for c in frame.children if c.is_synthetic and c.function != "[self]")
        self_time[key] += max(0.0, frame.time - sum(c.time for c in real_children) - waited)
        if key not in seen:
            inclusive[key] += frame.time
            seen = seen | {key}
        for child in frame.children:
            walk(child, seen)

    walk(root, frozenset())

    def table(values: dict[str, float], keep: Any) -> list[dict[str, Any]]:
        rows = sorted(((k, v) for k, v in values.items() if keep(k)), key=lambda kv: -kv[1])
        return [
            {"where": k, "seconds": round(v, 3), "share": round(v / total, 4)}
            for k, v in rows[:top]
        ]

    return {
        "seconds": round(total, 3),
        "samples": session.sample_count,
        "cpu_seconds": round(getattr(session, "cpu_time", 0.0) or 0.0, 3),
        "self": table(self_time, lambda k: True),
        "inclusive_project": table(inclusive, lambda k: k.startswith(PROJECT)),
        "inclusive_all": table(inclusive, lambda k: True),
    }


def finish(profiler: Any, path: Path, title: str) -> dict[str, Any]:
    session = profiler.stop() if profiler.is_running else profiler.last_session
    path.parent.mkdir(parents=True, exist_ok=True)
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    flat = profiler.output_text(unicode=False, color=False, flat=True)
    path.write_text(f"# {title}\n\n{text}\n\n# flat (self time)\n\n{flat}\n")
    summary = summarize(session)
    summary["report"] = str(path)
    return summary
