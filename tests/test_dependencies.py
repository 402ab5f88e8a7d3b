"""Dependencies: aiohttp's floor is past its server's request-smuggling fixes, and CI
installs from a constraints file (.ci/constraints.txt) that pins every package exactly,
each pin within pyproject.toml's floors, so a green run is reproducible (issue 18)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parents[1]
CONSTRAINTS = ROOT / ".ci" / "constraints.txt"


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]
    ]


def pins() -> dict[str, Version]:
    pinned: dict[str, Version] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([0-9A-Za-z.+!-]+)", line)
        assert match, f"not an exact pin: {line!r}"
        pinned[canonicalize_name(match[1])] = Version(match[2])
    return pinned


def test_aiohttp_floor_is_past_the_request_smuggling_fixes() -> None:
    (aiohttp,) = [r for r in requirements() if r.name == "aiohttp"]
    # 3.13.3 is the last release fixing the server's HTTP parsing (smuggling, headers).
    assert not aiohttp.specifier.contains("3.13.2") and aiohttp.specifier.contains("3.13.3")
    assert pins()["aiohttp"] >= Version("3.13.3")


def test_every_requirement_is_pinned_within_its_floor() -> None:
    pinned = pins()
    for requirement in requirements():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not pinned in .ci/constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{requirement.name}=={pinned[name]} is outside pyproject's {requirement.specifier}"
        )


def test_make_and_ci_install_with_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "CONSTRAINTS ?= .ci/constraints.txt" in makefile
    assert "--constraint $(CONSTRAINTS)" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "CONSTRAINTS=" not in ci
