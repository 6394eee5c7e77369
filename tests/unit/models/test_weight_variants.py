"""A generator whose known defaults name a weights variant (SDXL-Turbo: fp16) is loaded from that variant's files.

A tiny random SDXL pipeline is saved with ``variant="fp16"`` (``*.fp16.safetensors``, float16 tensors, no default
files), as a local directory and as the Hugging Face cache holds ``stabilityai/sdxl-turbo`` after
``python -m workers download``, and loaded through the production ``ImageGenerator.from_pretrained``.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import huggingface_hub.constants  # noqa: E402

from models import tiny_families  # noqa: E402
from models.generator import DEFAULTS_FILE, ImageGenerator, known_defaults  # noqa: E402

SDXL_TURBO = "stabilityai/sdxl-turbo"
COMMIT = "0" * 39 + "1"


@pytest.fixture(scope="module")
def sdxl_dirs(tmp_path_factory) -> dict[str, Path]:
    """The tiny SDXL saved twice: with its default (float32) files, and as an fp16 variant only."""
    from diffusers import StableDiffusionXLPipeline

    root = tmp_path_factory.mktemp("variants")
    default = tiny_families.build_tiny_sdxl(root / "default")
    fp16 = root / "fp16"
    StableDiffusionXLPipeline.from_pretrained(default).to(torch.float16).save_pretrained(fp16, variant="fp16")
    return {"default": default, "fp16": fp16}


def weight_files(path: Path) -> list[str]:
    return sorted(str(file.relative_to(path)) for file in path.rglob("*.safetensors"))


def test_the_fp16_copy_has_only_variant_weights(sdxl_dirs):
    files = weight_files(sdxl_dirs["fp16"])
    assert files and all(".fp16." in name for name in files)


def test_sdxl_turbo_is_known_to_load_as_fp16():
    assert known_defaults(SDXL_TURBO).variant == "fp16"
    assert known_defaults("kandinsky-community/kandinsky-2-2-decoder").variant is None


def test_a_local_variant_is_loaded_when_its_defaults_name_it(sdxl_dirs, tmp_path):
    local = tmp_path / "turbo-fp16"
    shutil.copytree(sdxl_dirs["fp16"], local)
    defaults = json.loads((sdxl_dirs["default"] / DEFAULTS_FILE).read_text())
    (local / DEFAULTS_FILE).write_text(json.dumps({**defaults, "variant": "fp16"}))
    generator = ImageGenerator.from_pretrained(str(local))
    reference = ImageGenerator.from_pretrained(str(sdxl_dirs["default"]))
    weights = generator.pipe.unet.state_dict()
    for name, tensor in reference.pipe.unet.state_dict().items():  # the fp16 files' values, read back as float32
        torch.testing.assert_close(weights[name], tensor.half().float(), rtol=0, atol=0)
    (image,) = generator.generate("a red cat", seed=0, steps=1)
    assert image.size == tuple(defaults["default_size"])


def hub_cache(root: Path, snapshot_of: Path) -> Path:
    """A Hugging Face cache (HF_HUB_CACHE) holding ``snapshot_of`` as the main revision of stabilityai/sdxl-turbo."""
    repo = root / "models--stabilityai--sdxl-turbo"
    shutil.copytree(snapshot_of, repo / "snapshots" / COMMIT, ignore=shutil.ignore_patterns(DEFAULTS_FILE))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return root


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """Point huggingface_hub at a cache under tmp_path, offline (as a worker with HF_HUB_OFFLINE=1)."""

    def install(snapshot_of: Path) -> None:
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache(tmp_path / "hub", snapshot_of)))
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    return install


def test_sdxl_turbo_loads_its_fp16_files_from_the_hub_cache(sdxl_dirs, offline_hub):
    offline_hub(sdxl_dirs["fp16"])
    generator = ImageGenerator.from_pretrained(SDXL_TURBO)
    assert generator.default_steps == 4
    (image,) = generator.generate("a red cat", seed=0, steps=1, width=64, height=64)
    assert image.size == (64, 64)


def test_a_cache_without_the_variant_loads_the_default_files(sdxl_dirs, offline_hub, caplog):
    """A cache filled by an older `download` (float32 files only) still loads, and the log says so."""
    offline_hub(sdxl_dirs["default"])
    with caplog.at_level(logging.WARNING, logger="models.generator"):
        generator = ImageGenerator.from_pretrained(SDXL_TURBO)
    assert "no fp16 weight files here" in caplog.text
    (image,) = generator.generate("a red cat", seed=0, steps=1, width=64, height=64)
    assert image.size == (64, 64)
