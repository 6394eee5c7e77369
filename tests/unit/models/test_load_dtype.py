"""Every loader gets its weights in the dtype it asks for, through the production ``from_pretrained`` path.

The loaders pass ``dtype=`` (transformers' name since 4.56, diffusers' since 0.40). diffusers before 0.40 read
only ``torch_dtype`` and silently loaded float32: a real Kandinsky 5 at ~58 GB instead of half that. On a CPU the
default dtype is float32 anyway, so only an explicit half dtype shows it. ``make test-lowest`` runs this file at
the floors pyproject.toml declares.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from models import tiny, tiny_families  # noqa: E402
from models.classifier import ZeroShotClassifier  # noqa: E402
from models.generator import ImageGenerator  # noqa: E402
from models.translation import Translator  # noqa: E402

HALF = torch.bfloat16
GENERATORS = {
    "sd": tiny.build_tiny_generator,
    "kandinsky5": tiny_families.build_tiny_kandinsky5,
    "kandinsky22": tiny_families.build_tiny_kandinsky22,
    "sdxl": tiny_families.build_tiny_sdxl,
}


def floating_dtypes(module: torch.nn.Module) -> dict[torch.dtype, int]:
    """How many floating-point parameters ``module`` holds in each dtype."""
    counts: dict[torch.dtype, int] = {}
    for param in module.parameters():
        if param.is_floating_point():
            counts[param.dtype] = counts.get(param.dtype, 0) + param.numel()
    return counts


def mostly(module: torch.nn.Module, dtype: torch.dtype) -> bool:
    """Most of the weights are in ``dtype`` (a model may keep a few layers in float32 on purpose)."""
    counts = floating_dtypes(module)
    return counts.get(dtype, 0) > sum(counts.values()) / 2


@pytest.mark.parametrize("family", list(GENERATORS))
def test_every_network_of_a_generator_loads_in_the_requested_dtype(family, tmp_path):
    path = GENERATORS[family](tmp_path / family)
    pipe = ImageGenerator.from_pretrained(str(path), device="cpu", dtype=HALF).pipe
    networks = {name: c for name, c in pipe.components.items() if isinstance(c, torch.nn.Module)}
    assert networks, f"{type(pipe).__name__} has no networks"
    wrong = {name: floating_dtypes(net) for name, net in networks.items() if not mostly(net, HALF)}
    assert not wrong, f"{type(pipe).__name__}: not loaded in {HALF}: {wrong}"


def test_the_translator_loads_in_the_requested_dtype(tmp_path):
    path = tiny_families.build_tiny_marian(tmp_path / "ru-en")
    assert mostly(Translator.from_pretrained(str(path), device="cpu", dtype=HALF).model, HALF)


def test_a_transformers_classifier_loads_in_the_requested_dtype(tmp_path):
    path = tiny.build_tiny_siglip_classifier(tmp_path / "siglip")
    classifier = ZeroShotClassifier.from_pretrained(str(path), device="cpu", dtype=HALF, embedding_dir=None)
    assert mostly(classifier.model, HALF)


def test_the_loaders_are_tested_on_what_they_load(tmp_path):
    """The tiny builders save float32 weights: a pass above means a conversion on load, not a half checkpoint."""
    path = Path(tiny.build_tiny_generator(tmp_path / "sd"))
    pipe = ImageGenerator.from_pretrained(str(path), device="cpu", dtype=torch.float32).pipe
    assert mostly(pipe.unet, torch.float32)
