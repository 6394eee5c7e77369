"""Zoom out and pan (outpainting): the canvas geometry, the soft mask and the composite (models/outpaint.py), and
every generator family on tiny random models loaded as production loads them (models.presets): the families with
an inpainting pipeline that runs on their weights zoom out and pan, sharing the loaded UNet; the others say so."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.protocol import OUTPAINT_CODES, PAN_DOWN, PAN_LEFT, PAN_RIGHT, PAN_UP, ZOOM_OUT_2, ZOOM_OUT_15
from models import outpaint


def same_size(size):
    return size


def snap16(size):
    """A model's grid of 16 at 64×64 pixels: what ImageGenerator.size_for does for the tiny SD."""
    area, ratio = 64 * 64, size[0] / size[1]
    return (max(16, round((area * ratio) ** 0.5 / 16) * 16), max(16, round((area / ratio) ** 0.5 / 16) * 16))


# --- geometry ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "canvas", "box", "open_sides"),
    [
        (ZOOM_OUT_2, (128, 128), (32, 32, 96, 96), (True, True, True, True)),
        (ZOOM_OUT_15, (96, 96), (16, 16, 80, 80), (True, True, True, True)),
        (PAN_LEFT, (96, 64), (32, 0, 96, 64), (True, False, False, False)),
        (PAN_RIGHT, (96, 64), (0, 0, 64, 64), (False, False, True, False)),
        (PAN_UP, (64, 96), (0, 32, 64, 96), (False, True, False, False)),
        (PAN_DOWN, (64, 96), (0, 0, 64, 64), (False, False, False, True)),
    ],
)
def test_each_code_places_the_picture_on_its_canvas(code, canvas, box, open_sides):
    plan = outpaint.layout((64, 64), code, same_size)
    assert plan.size == canvas
    assert plan.box == box
    assert plan.open_sides == open_sides
    assert plan.box_size == (64, 64)  # not snapped: the picture keeps its size


@pytest.mark.parametrize(
    ("code", "size", "box"),
    [
        (ZOOM_OUT_2, (64, 64), (16, 16, 48, 48)),  # back to the model's size: the picture shrinks to half
        (ZOOM_OUT_15, (64, 64), (11, 11, 53, 53)),
        (PAN_LEFT, (80, 48), (27, 0, 80, 48)),  # 96×64 brought to about 64×64 pixels on the grid of 16
        (PAN_DOWN, (48, 80), (0, 0, 48, 53)),
    ],
)
def test_the_canvas_is_snapped_back_to_the_models_size(code, size, box):
    plan = outpaint.layout((64, 64), code, snap16)
    assert plan.size == size
    assert plan.box == box


def test_an_unknown_code_is_refused():
    with pytest.raises(ValueError, match="unknown outpaint code"):
        outpaint.layout((64, 64), "zz", same_size)


def test_every_code_the_buttons_send_has_a_layout():
    assert {outpaint.layout((64, 48), code, snap16).size for code in OUTPAINT_CODES}


# --- mask and composite ------------------------------------------------------------------------------------------


def test_the_mask_paints_outside_keeps_inside_with_a_soft_seam():
    plan = outpaint.layout((64, 64), ZOOM_OUT_2, same_size)  # box 32..96, feather 5
    paint = np.asarray(outpaint.mask(plan), dtype=np.int32)
    assert plan.feather == 5
    assert (paint[:32] == 255).all() and (paint[:, 96:] == 255).all()  # the new border: painted
    assert (paint[32 + 5 : 96 - 5, 32 + 5 : 96 - 5] == 0).all()  # the picture's middle: kept
    seam = paint[64, 32 : 32 + 6]
    assert seam[0] > seam[2] > seam[4] > 0 and seam[5] == 0  # a ramp from painted to kept
    assert 0 < seam[0] < 255


def test_a_pan_has_a_seam_only_on_its_open_side():
    plan = outpaint.layout((64, 64), PAN_RIGHT, same_size)  # box 0..64 of 96
    paint = np.asarray(outpaint.mask(plan), dtype=np.int32)
    assert (paint[:, 64:] == 255).all()
    assert (paint[:, : 64 - plan.feather] == 0).all()  # the left, top and bottom edges touch the canvas: no seam
    assert 0 < paint[30, 63] < 255


def noise(size, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def test_the_composite_keeps_the_known_pixels_and_blends_the_seam():
    picture = noise((64, 64))
    plan = outpaint.layout(picture.size, ZOOM_OUT_2, snap16)
    start, paint_mask = outpaint.start_image(picture, plan), outpaint.mask(plan)
    painted = Image.new("RGB", plan.size, (255, 0, 255))
    out = np.asarray(outpaint.composite(painted, start, paint_mask), dtype=np.int32)
    left, top, right, bottom = plan.box
    f = plan.feather
    expected = np.asarray(picture.resize(plan.box_size, outpaint.RESAMPLE), dtype=np.int32)
    assert np.array_equal(out[top + f : bottom - f, left + f : right - f], expected[f:-f, f:-f])
    assert (out[0, 0] == (255, 0, 255)).all()
    mixed = out[top + 1, left + f : right - f]
    assert not np.array_equal(mixed, expected[1, f:-f])  # the seam blends the two


def test_the_start_image_fills_the_border_with_the_pictures_mean_colour():
    picture = Image.new("RGB", (64, 64), (10, 200, 30))
    plan = outpaint.layout(picture.size, PAN_UP, same_size)
    start = outpaint.start_image(picture, plan)
    assert start.size == plan.size
    assert start.getpixel((5, 5)) == (10, 200, 30)


# --- the families, on tiny models loaded through models.presets ----------------------------------------------------

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from models import presets, tiny_families  # noqa: E402
from models.generator import ImageGenerator, OutpaintingUnsupported  # noqa: E402

BUILDERS = {
    "sd-turbo": tiny_families.build_tiny_sd_turbo,
    "sdxl": tiny_families.build_tiny_sdxl,
    "kandinsky22": tiny_families.build_tiny_kandinsky22,
    "kandinsky5": tiny_families.build_tiny_kandinsky5,
}
# Each family's inpainting pipeline, None where none runs on its weights: Kandinsky 2.2's needs an inpainting UNet
# (9 input channels; its text-to-image decoder has 4), Kandinsky 5 has none in diffusers.
INPAINTING = {
    "sd-turbo": "StableDiffusionInpaintPipeline",
    "sdxl": "StableDiffusionXLInpaintPipeline",
    "kandinsky22": None,
    "kandinsky5": None,
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, model_cache_dir) -> dict[str, ImageGenerator]:
    """Each family loaded by models.presets.load_models (the tiny preset with the family as its generator)."""
    root = tmp_path_factory.mktemp("outpaint-families")
    translator = str(tiny_families.build_tiny_marian(root / "ru-en"))  # the families that read no Russian need one
    generators = {}
    for name, build in BUILDERS.items():
        path = build(root / name)
        models = presets.load_models("tiny", model_cache_dir, "cpu", generator=str(path), translator=translator)
        generators[name] = models.generator
    return generators


def centre_matches(result: Image.Image, picture: Image.Image, plan: outpaint.Layout) -> None:
    left, top, right, bottom = plan.box
    f = plan.feather
    got = np.asarray(result, dtype=np.int32)[top + f : bottom - f, left + f : right - f]
    want = np.asarray(picture.resize(plan.box_size, outpaint.RESAMPLE), dtype=np.int32)[f:-f, f:-f]
    assert np.abs(got - want).max() <= 1


@pytest.mark.parametrize("family", list(BUILDERS))
def test_a_family_zooms_out_with_its_inpainting_pipeline_or_says_it_cannot(family, loaded):
    generator = loaded[family]
    assert generator.makes_outpaintings == (INPAINTING[family] is not None)
    picture = generator.generate("рыжий кот", seed=1)[0]
    if INPAINTING[family] is None:
        with pytest.raises(OutpaintingUnsupported):
            generator.outpaint(picture, ZOOM_OUT_2, "рыжий кот", seed=2)
        return
    steps = []
    (zoomed,) = generator.outpaint(picture, ZOOM_OUT_2, "рыжий кот", seed=2, on_step=lambda *s: steps.append(s))
    pipe = generator._inpaint[0]
    assert type(pipe).__name__ == INPAINTING[family]
    assert pipe.unet is generator.pipe.unet  # from_pipe shares the loaded weights: no second copy
    assert pipe.vae is generator.pipe.vae and pipe.text_encoder is generator.pipe.text_encoder
    plan = outpaint.layout(picture.size, ZOOM_OUT_2, generator.size_for)
    assert zoomed.size == plan.size == generator.default_size
    centre_matches(zoomed, picture, plan)
    assert steps and steps[-1][0] == steps[-1][1]  # progress reported to the end
    again = generator.outpaint(picture, ZOOM_OUT_2, "рыжий кот", seed=2)[0]
    assert np.array_equal(np.asarray(again), np.asarray(zoomed))  # seeded


@pytest.mark.parametrize("code", [PAN_LEFT, PAN_UP, ZOOM_OUT_15])
def test_sd_turbo_pans_to_a_size_the_model_supports(code, loaded):
    generator = loaded["sd-turbo"]
    picture = generator.generate("дом у реки", seed=3)[0]
    (panned,) = generator.outpaint(picture, code, "дом у реки", seed=4, negative_prompt="люди")
    plan = outpaint.layout(picture.size, code, generator.size_for)
    assert panned.size == plan.size
    assert all(side % generator.size_multiple == 0 for side in panned.size)
    centre_matches(panned, picture, plan)


def test_sd_turbo_with_the_cpu_presets_tiny_decoder_outpaints(tmp_path):
    """The `cpu` preset's generator: SD-Turbo with TAESD (an AutoencoderTiny) in place of its VAE."""
    model = tiny_families.build_tiny_sd_turbo(tmp_path / "sd-turbo")
    decoder = tiny_families.build_tiny_taesd(tmp_path / "taesd")
    generator = ImageGenerator.from_pretrained(str(model), device="cpu", decoder=str(decoder))
    picture = generator.generate("кот", seed=0)[0]
    (zoomed,) = generator.outpaint(picture, ZOOM_OUT_2, "кот", seed=1)
    assert generator._inpaint[0].vae is generator.pipe.vae
    centre_matches(zoomed, picture, outpaint.layout(picture.size, ZOOM_OUT_2, generator.size_for))


def test_the_warm_up_makes_the_inpainting_pipeline_before_the_first_job(tiny_models, monkeypatch):
    from models import warmup

    monkeypatch.setattr(tiny_models.generator, "_inpaint", None)
    warmup.warm_up(tiny_models)
    pipe, _params = tiny_models.generator._inpaint
    assert type(pipe).__name__ == "StableDiffusionInpaintPipeline" and pipe.unet is tiny_models.generator.pipe.unet
