"""Print pip requirements that pin each declared dependency to its floor: ``name>=1.2`` becomes ``name==1.2``.

``make test-lowest`` installs these into a second virtualenv and runs the model and worker tests there, so a
floor in pyproject.toml that is too old for the code fails CI instead of a deployment. Groups: ``core`` (the
project's dependencies) and any optional extra by name (``worker``). Usage::

    python .ci/lowest_requirements.py core worker > lowest.txt

``torch`` is left out: its floor would pull a multi-GB CUDA build from PyPI; the Makefile installs ``$(TORCH)``
first. A requirement without a ``>=`` floor is printed as declared.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
SKIP = {"torch"}
REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\[[^\]]*\])?\s*(?P<spec>[^;]*)(?P<marker>;.*)?$"
)


def lowest(requirement: str) -> str | None:
    """``"rq>=3.0,<4"`` → ``"rq==3.0"``; None for a skipped package."""
    match = REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"cannot read requirement {requirement!r}")
    name = match["name"]
    if name.lower() in SKIP:
        return None
    floors = [part.strip()[2:].strip() for part in match["spec"].split(",") if part.strip().startswith(">=")]
    if not floors:
        return requirement.strip()
    return f"{name}{match['extras'] or ''}=={floors[0]}{match['marker'] or ''}"


def requirements(groups: list[str], pyproject: Path = PYPROJECT) -> list[str]:
    """The pinned requirements of ``groups`` (``core`` and/or extra names) in declaration order."""
    project = tomllib.loads(pyproject.read_text())["project"]
    declared: list[str] = []
    for group in groups:
        declared += project["dependencies"] if group == "core" else project["optional-dependencies"][group]
    return [pin for pin in map(lowest, declared) if pin is not None]


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1:] or ["core", "worker"])))
