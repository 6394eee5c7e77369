"""The upscaler (models/upscaler.py): tiny random RRDBNets saved as Real-ESRGAN's checkpoints, loaded through
spandrel as the real ones are; sizes, tiling against one pass, progress and cancelling between tiles."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models.presets import REAL_ESRGAN_X4, resolve_preset
from models.tiny import ensure_tiny_upscaler
from models.tiny_families import build_tiny_upscaler
from models.upscaler import TilePlan, Upscaler, UpscalerSlot, hub_file, tile_plan


@pytest.fixture(scope="module")
def x4(tmp_path_factory) -> Path:
    return ensure_tiny_upscaler(tmp_path_factory.mktemp("cache"))


def picture(width: int = 40, height: int = 28, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def test_the_tiny_checkpoint_is_real_esrgans_format_read_by_spandrel(x4):
    state = torch.load(x4, map_location="cpu")
    assert list(state) == ["params_ema"]
    keys = state["params_ema"].keys()
    assert {"conv_first.weight", "body.0.rdb1.conv1.weight", "conv_up1.weight", "conv_hr.weight"} <= keys
    upscaler = Upscaler.from_file(str(x4))
    assert (upscaler.descriptor.architecture.name, upscaler.scale, upscaler.name) == ("ESRGAN", 4, "RealESRGAN_x4")
    assert upscaler.dtype == torch.float32  # on the CPU


@pytest.mark.parametrize("factor", [2, 4])
def test_the_output_is_exactly_factor_times_the_size(x4, factor):
    upscaler = Upscaler.from_file(str(x4))
    image = picture(37, 23)
    result = upscaler.upscale(image, factor)
    assert result.size == (37 * factor, 23 * factor)
    assert pixels(result).std() > 5  # a picture, not a flat field


def test_tiled_equals_one_pass_within_a_small_tolerance(x4):
    """Tiles with enough context are the one pass, up to rounding; with little context the ramp-blended seams stay
    within a few levels and on average far below one."""
    one = Upscaler.from_file(str(x4), plan=TilePlan(tile=512))
    image = picture(60, 44)
    whole = pixels(one.upscale(image, 4))
    for plan, worst, mean in ((TilePlan(tile=24, pad=24, overlap=8), 1, 0.01), (TilePlan(24, 4, 8), 4, 0.1)):
        tiled = Upscaler(one.descriptor, one.name, "cpu", torch.float32, plan)
        difference = np.abs(pixels(tiled.upscale(image, 4)) - whole)
        assert difference.max() <= worst and difference.mean() <= mean, plan


def test_a_x2_model_runs_twice_for_x4_and_a_x4_model_once_for_x2(tmp_path, x4):
    two = Upscaler.from_file(str(build_tiny_upscaler(tmp_path, scale=2)))
    assert (two.scale, two.passes(2), two.passes(4)) == (2, 1, 2)
    assert two.upscale(picture(20, 12), 4).size == (80, 48)
    four = Upscaler.from_file(str(x4))
    assert (four.passes(2), four.passes(4)) == (1, 1)


def test_progress_is_reported_per_tile_and_a_raise_stops_between_tiles(x4):
    upscaler = Upscaler.from_file(str(x4), plan=TilePlan(tile=16, pad=4, overlap=4))
    calls: list[tuple[int, int]] = []
    upscaler.upscale(picture(40, 28), 4, on_tile=lambda done, total: calls.append((done, total)))
    assert calls == [(done, 6) for done in range(1, 7)]  # 3 columns × 2 rows

    class Stop(Exception):
        pass

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Stop

    with pytest.raises(Stop):
        upscaler.upscale(picture(40, 28), 4, on_tile=stop_after_two)


def test_the_tile_size_follows_the_memory_budget():
    assert tile_plan("cpu", 4, torch.float32).tile == 256  # 12 KB an input pixel: 0.75 GB a tile
    assert tile_plan("cpu", 2, torch.float32).tile == 512


def test_sources_hub_files_local_files_and_presets(tmp_path, x4):
    assert hub_file(REAL_ESRGAN_X4) == ("ai-forever/Real-ESRGAN", "RealESRGAN_x4.pth")
    assert hub_file(str(x4)) is None
    assert resolve_preset("fast", tmp_path).upscaler == REAL_ESRGAN_X4
    assert resolve_preset("fast", tmp_path, upscaler="off").upscaler is None
    assert Path(str(resolve_preset("tiny", tmp_path).upscaler)).name == "RealESRGAN_x4.pth"


def test_a_lazy_slot_loads_on_first_use_and_a_failed_load_does_not_stop_the_worker(tmp_path, x4):
    lazy = UpscalerSlot(str(x4), "cpu", lazy=True)
    assert not lazy.loaded
    assert lazy.get().scale == 4 and lazy.loaded
    missing = UpscalerSlot(str(tmp_path / "none.pth"), "cpu")
    assert not missing.loaded
    with pytest.raises(FileNotFoundError):
        missing.get()


def test_tiles_are_as_few_as_the_size_allows_and_overlap_evenly(x4):
    upscaler = Upscaler.from_file(str(x4), plan=TilePlan(tile=256, pad=8, overlap=16))
    assert upscaler._spans(200) == [(0, 200)]
    assert upscaler._spans(512) == [(0, 182), (165, 347), (330, 512)]  # three of 182, not 256 + 256 + a repeat
    spans = upscaler._spans(1000)
    assert spans[0][0] == 0 and spans[-1][1] == 1000
    assert all(first[1] - second[0] in (15, 16, 17) for first, second in itertools.pairwise(spans))
