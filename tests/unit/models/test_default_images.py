"""Each model's default number of pictures per request (cheap few-step models a 2x2 grid, the heavy ones fewer),
and docs/deploy.md's table, which states them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models import presets
from models.generator import FALLBACK_IMAGES, known_defaults

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("model", "images"),
    [
        ("stabilityai/sdxl-turbo", 4),
        ("stabilityai/sd-turbo", 4),
        ("black-forest-labs/FLUX.1-schnell", 4),
        ("kandinsky-community/kandinsky-2-2-decoder", 2),
        ("kandinskylab/Kandinsky-5.0-T2I-Lite-sft-Diffusers", 1),
        ("someone/unknown-model", None),  # FALLBACK_IMAGES
    ],
)
def test_cheap_models_paint_a_grid_and_heavy_ones_fewer(model, images):
    assert known_defaults(model).images == images


def preset_images(name: str) -> int:
    """What a worker of preset ``name`` paints for a request that names no count (``LoadedModels.default_images``)."""
    preset = presets.PRESETS[name]
    return preset.images or known_defaults(preset.generator).images or FALLBACK_IMAGES


@pytest.mark.parametrize("name", ["cpu", "fast", "compact", "quality"])
def test_the_deploy_table_states_each_presets_default(name):
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = text.split("## Pictures per request", 1)[1].split("\n## ", 1)[0]
    [row] = [line for line in section.splitlines() if line.startswith(f"| `{name}` |")]
    assert re.split(r"\s*\|\s*", row)[-2] == str(preset_images(name))
