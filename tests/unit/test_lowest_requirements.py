"""The lowest-versions CI step (``make test-lowest``): its pins come from pyproject.toml's floors, and the floors
the code depends on stay declared (.ci/lowest_requirements.py)."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "lowest_requirements.py"


def load_script():
    spec = importlib.util.spec_from_file_location("lowest_requirements", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def declared(group: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] if group == "core" else project["optional-dependencies"][group]
    return {re.match(r"[A-Za-z0-9._-]+", r).group(0).lower(): r for r in requirements}


def test_a_floor_becomes_a_pin_and_torch_is_left_to_the_makefile():
    lowest = load_script().lowest
    assert lowest("rq>=3.0,<4") == "rq==3.0"
    assert lowest("redis[hiredis]>=5.0.1") == "redis[hiredis]==5.0.1"
    assert lowest('tomli>=2; python_version < "3.11"') == 'tomli==2; python_version < "3.11"'
    assert lowest("torch>=2.4") is None
    assert lowest("something") == "something"


def test_every_runtime_requirement_of_a_worker_is_pinned_to_its_floor():
    pins = load_script().requirements(["core", "worker"])
    names = {re.match(r"[A-Za-z0-9._-]+", pin).group(0).lower() for pin in pins}
    assert names == (set(declared("core")) | set(declared("worker"))) - {"torch"}
    assert all("==" in pin for pin in pins), pins


def test_the_floors_the_code_needs_stay_declared():
    """diffusers 0.40: ``from_pretrained(dtype=)`` (tests/unit/models/test_load_dtype.py); transformers 5:
    ``dtype=`` and the huggingface-hub 1.x that diffusers 0.40 needs; rq 3.x: the worker internals workers/worker.py
    overrides."""
    worker, core = declared("worker"), declared("core")
    assert worker["diffusers"] == "diffusers>=0.40"
    assert worker["transformers"] == "transformers>=5.0"
    assert core["rq"] == "rq>=3.0,<4"
