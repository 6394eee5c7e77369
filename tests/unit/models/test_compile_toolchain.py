"""``MODEL_COMPILE=true`` needs a compiler and Python's headers at run time (Triton on CUDA, inductor's C++ on the
CPU). Where they are missing (the slim worker image before it got them), the worker refuses the setting at start
with one line, instead of a warm-up that fails quietly and then every picture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import acceleration
from models.acceleration import compile_toolchain_problem

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def no_compilers(monkeypatch, tmp_path):
    """A PATH with no compiler on it, and neither CC nor CXX set."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    return empty


def executable(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(("device", "needed"), [("cuda", "a C compiler (CC"), ("cpu", "a C++ compiler (CXX")])
def test_no_compiler_on_the_path_is_a_problem_named_for_the_device(no_compilers, device, needed):
    problem = compile_toolchain_problem(device)
    assert problem is not None and needed in problem and f"torch.compile on {device}" in problem


def test_the_compilers_inductor_and_triton_would_use_are_found(no_compilers, monkeypatch, tmp_path):
    executable(no_compilers, "gcc")  # Triton's first choice
    executable(no_compilers, "g++")  # inductor's on Linux
    assert compile_toolchain_problem("cuda:0") is None
    assert compile_toolchain_problem("cpu") is None


def test_cc_and_cxx_name_the_compiler_and_must_exist(no_compilers, monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(executable(tmp_path, "my-cc")))
    assert compile_toolchain_problem("cuda") is None
    monkeypatch.setenv("CXX", str(tmp_path / "not-there++"))
    assert "C++ compiler" in compile_toolchain_problem("cpu")


def test_missing_python_headers_are_a_problem_even_with_a_compiler(monkeypatch, tmp_path):
    monkeypatch.setattr(acceleration, "python_header", lambda: tmp_path / "include" / "Python.h")
    problem = compile_toolchain_problem("cpu")
    assert problem is not None and f"no {tmp_path / 'include' / 'Python.h'}" in problem


def test_the_python_header_lookup_matches_this_interpreter():
    header = acceleration.python_header()
    assert header.name == "Python.h" and f"{sys.version_info.major}.{sys.version_info.minor}" in str(header.parent)


def test_the_worker_refuses_model_compile_at_start_without_a_compiler(no_compilers, tmp_path):
    """Before the check, this worker loaded its models, failed the warm-up's compile quietly and waited for Redis
    (here unreachable) to serve jobs that would all fail: the run timed out instead of exiting."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MODEL_", "REDIS_", "WORKER_"))}
    env.update(
        PYTHONPATH=str(REPO),
        MODEL_COMPILE="true",
        MODEL_DEVICE="cpu",
        MODEL_PRESET="tiny",
        MODEL_CACHE_DIR=str(tmp_path / "cache"),
        REDIS_URL="redis://127.0.0.1:1/0",
        WORKER_METRICS_PORT="0",
    )
    result = subprocess.run(
        [sys.executable, "-m", "workers"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: MODEL_COMPILE: torch.compile on cpu")
    assert "C++ compiler" in lines[0] and "MODEL_COMPILE=false" in lines[0]
