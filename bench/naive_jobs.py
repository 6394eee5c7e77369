"""The naive worker design, for ``bench/warm_worker.py``: every job loads the preset's models, then runs.

RQ's stock ``rq.Worker`` forks a work horse per job; a job function can keep nothing between jobs, so it must load
its models each time. ``generate`` does that with the production loader (``models.presets.load_models``), then
runs the production job function (``workers.jobs.generate``) on them: the same picture, published the same way.
RQ imports this module by dotted path (``bench.naive_jobs.generate``) in each work horse; the payload is JSON.

Run as a script, it is RQ's own command line (``rq worker ...``) with the libraries imported before the first
fork, so that the work horses inherit them and pay only the model load (the ``preimported`` variant):

    python -m bench.naive_jobs worker -u URL -S json molbert-generate
"""

from __future__ import annotations

import os
from pathlib import Path


def load_preset():
    """The models of ``MODEL_PRESET`` (default ``tiny``) from ``MODEL_CACHE_DIR``, on ``MODEL_DEVICE`` (cpu)."""
    from models.presets import load_models

    return load_models(
        os.environ.get("MODEL_PRESET", "tiny"),
        Path(os.environ.get("MODEL_CACHE_DIR", Path.home() / ".cache" / "molbert")),
        device=os.environ.get("MODEL_DEVICE", "cpu"),
    )


def generate(payload: dict) -> dict:
    """Load the models, then paint ``payload`` with the production job function (what a warm worker skips)."""
    from core.config import SafetySettings, load
    from workers import jobs, runtime
    from workers.__main__ import image_safety

    models = load_preset()
    runtime.set_models(models, image_safety(models, load(SafetySettings)))
    return jobs.generate(payload)


def preimport() -> None:
    """Import what a job needs (torch, diffusers, transformers, our modules) without loading any model."""
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image, DiffusionPipeline  # noqa: F401
    from transformers import AutoTokenizer, CLIPModel  # noqa: F401

    import models.classifier
    import models.generator
    import models.presets  # noqa: F401
    import workers.__main__
    import workers.jobs  # noqa: F401


if __name__ == "__main__":
    from rq.cli import main

    preimport()
    main()
