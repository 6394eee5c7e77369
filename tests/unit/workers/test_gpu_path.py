"""The worker's start on the GPU path, checked without a GPU: the CUDA allocator default is set before torch is
imported and never over the operator's own, and the warm-up picture is painted before ``ready`` (or not, with
``MODEL_WARMUP=false``) and reaches no chat (with real worker processes: tests/e2e/test_worker_start.py).
Channels-last and the other pipeline settings are in tests/unit/models/test_model_families.py."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from tests.processes import REPO
from workers.allocator import ALLOC_CONF, DEFAULT_ALLOC_CONF, apply_allocator_default

OPERATORS_CONF = "garbage_collection_threshold:0.6"


def test_the_allocator_default_is_set_when_the_operator_set_none():
    env = {"PATH": "/usr/bin"}
    config = apply_allocator_default(env)
    assert env[ALLOC_CONF] == DEFAULT_ALLOC_CONF == "expandable_segments:True"
    assert config.ours and config.describe() == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (Molbert's default)"


def test_an_empty_value_counts_as_unset():
    env = {ALLOC_CONF: " "}  # what compose passes for ${PYTORCH_CUDA_ALLOC_CONF:-} when .env leaves it out
    assert apply_allocator_default(env).ours and env[ALLOC_CONF] == DEFAULT_ALLOC_CONF


@pytest.mark.parametrize("name", [ALLOC_CONF, "PYTORCH_ALLOC_CONF"])
def test_the_operators_allocator_setting_wins(name):
    env = {name: OPERATORS_CONF}
    config = apply_allocator_default(env)
    assert env == {name: OPERATORS_CONF}  # nothing changed, nothing added
    assert not config.ours and config.describe() == f"{name}={OPERATORS_CONF} (set by the operator)"


def test_the_worker_entry_point_imports_no_torch_before_it_sets_the_default():
    """``main()`` sets the variable first thing; everything ``python -m workers`` imports before it is torch-free."""
    code = "import sys, workers.__main__; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stderr


def test_a_failed_warm_up_is_logged_and_the_worker_starts_anyway(tiny_models, caplog):
    from workers.__main__ import warm_up_models
    from workers.safety import ImageSafety

    no_labels = ImageSafety(tiny_models.classifier, unsafe_labels=(), safe_labels=())  # the check cannot score
    with caplog.at_level(logging.INFO, logger="workers"):
        warm_up_models(tiny_models, no_labels)
    assert "warm-up failed; starting without it" in caplog.text
    assert "at least one label is needed" in caplog.text  # the traceback says why
