"""Text-to-image generation with any diffusers pipeline (hub id or local directory)."""

from __future__ import annotations

import inspect
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from models import acceleration, outpaint
from models.acceleration import GpuOptions
from models.device import pick_device, pick_dtype

log = logging.getLogger(__name__)

# A local model directory may carry this file to set its generation defaults, e.g.
# {"default_steps": 4, "default_size": [64, 64], "call_kwargs": {"guidance_scale": 0.0}, "reads_russian": false,
#  "resolutions": [[64, 64], [48, 96]], "variant": "fp16", "default_images": 4} (resolutions: the only sizes a
#  Kandinsky 5 pipeline generates; variant: the weight files to load; default_images: pictures a request gets when
#  it names no count; see GenerationDefaults).
DEFAULTS_FILE = "molbert.json"
FALLBACK_SIZE = (512, 512)
FALLBACK_STEPS = 30
FALLBACK_IMAGES = 1  # a model we know nothing about: one picture, the cheapest answer

StepCallback = Callable[[int, int], None]
# Image-to-image pipelines that resize the image to (height, width) instead of (width, height) (diffusers 0.42);
# told no size, they keep the image's own.
SWAPPED_SIZE_IMG2IMG = frozenset({"KandinskyV22Img2ImgCombinedPipeline", "KandinskyV22Img2ImgPipeline"})


class VariationsUnsupported(Exception):
    """The loaded pipeline has no image-to-image counterpart, so it cannot make variations."""


class OutpaintingUnsupported(Exception):
    """The loaded pipeline has no inpainting counterpart that can run on its weights: it cannot zoom out or pan."""


# Inpainting pipelines that feed their denoiser the masked picture and the mask beside the latents (4 + 4 + 1 input
# channels), so a text-to-image UNet (4 channels) cannot run them: Kandinsky 2.2's decoder is one (diffusers 0.42).
# Stable Diffusion's and SDXL's inpainting pipelines run a 4-channel UNet too (blending the known latents each step).
INPAINT_UNET_CHANNELS = {
    "KandinskyV22InpaintCombinedPipeline": 9,
    "KandinskyV22InpaintPipeline": 9,
    "KandinskyInpaintCombinedPipeline": 9,
    "KandinskyInpaintPipeline": 9,
}


def _inpaint_unet_fits(pipe: Any) -> bool:
    """Whether ``pipe`` (an inpainting pipeline made from a text-to-image one) can run on the UNet it shares."""
    needed = INPAINT_UNET_CHANNELS.get(type(pipe).__name__)
    if needed is None:
        return True
    decoder = getattr(pipe, "decoder_pipe", pipe)
    unet = getattr(decoder, "unet", None)
    return unet is not None and getattr(unet.config, "in_channels", None) == needed


@dataclass(frozen=True)
class GenerationDefaults:
    """Per-model generation settings that a pipeline's own signature does not know."""

    steps: int | None = None
    size: tuple[int, int] | None = None
    call_kwargs: dict[str, Any] = field(default_factory=dict)
    resolutions: tuple[tuple[int, int], ...] | None = None  # replaces the pipeline's own list, where it has one
    reads_russian: bool = False  # False: prompts are translated ru->en before they reach the model
    # diffusers' weights `variant` ("fp16": *.fp16.safetensors) that every weight component of the repo has: loaded
    # instead of the default (float32) files, and the only weights `python -m workers download` fetches for it.
    variant: str | None = None
    # Pictures a request that names no count (`--n`, the chat's /settings, BOT_DEFAULT_IMAGES) gets: a 2x2 grid where
    # a picture takes well under a second on a GPU, fewer for the heavy models (their times: docs/deploy.md).
    images: int | None = None


# Few-step models need their own step count and no classifier-free guidance; matched by name.
KNOWN_DEFAULTS: dict[str, GenerationDefaults] = {
    # Its fp16 files are half the download of the float32 ones, and the worker runs in 16 bits anyway.
    "sdxl-turbo": GenerationDefaults(
        steps=4, size=(512, 512), call_kwargs={"guidance_scale": 0.0}, variant="fp16", images=4
    ),
    # One step, as distilled. Its fp16 files too: half the download; a float32 worker (the CPU) upcasts them.
    "sd-turbo": GenerationDefaults(
        steps=1, size=(512, 512), call_kwargs={"guidance_scale": 0.0}, variant="fp16", images=4
    ),
    "flux.1-schnell": GenerationDefaults(
        steps=4, size=(1024, 1024), call_kwargs={"guidance_scale": 0.0, "max_sequence_length": 256}, images=4
    ),
    "kandinsky-2-2": GenerationDefaults(steps=50, size=(768, 768), images=2),  # ~5-10 s a picture on an A5000
    # Qwen2.5-VL text encoder: multilingual. A minute or more a picture with offload on 24 GB: one at a time
    "kandinsky-5": GenerationDefaults(reads_russian=True, images=1),
}


def known_defaults(model: str) -> GenerationDefaults:
    """Return the settings for ``model``: its ``molbert.json`` if it is a local dir, else by name."""
    sidecar = Path(model) / DEFAULTS_FILE
    if sidecar.is_file():
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        size, resolutions = data.get("default_size"), data.get("resolutions")
        return GenerationDefaults(
            steps=data.get("default_steps"),
            size=tuple(size) if size else None,
            call_kwargs=dict(data.get("call_kwargs", {})),
            resolutions=tuple(tuple(r) for r in resolutions) if resolutions else None,
            reads_russian=bool(data.get("reads_russian", False)),
            variant=data.get("variant"),
            images=data.get("default_images"),
        )
    lowered = model.lower()
    for key, defaults in KNOWN_DEFAULTS.items():
        if key in lowered:
            return defaults
    return GenerationDefaults()


def image_to_image_steps(steps: int, strength: float) -> int:
    """The steps to ask an image-to-image pipeline for, so that it denoises at least once: it runs only
    ``int(steps * strength)`` of them (diffusers' ``get_timesteps``), none for a one-step model (SD-Turbo) or a
    picture painted with ``--steps 1``, and then raises. ``steps`` or more; the fewest that run one step."""
    if strength <= 0:
        return max(1, steps)
    needed = max(1, steps, math.ceil(1 / strength))
    while int(needed * strength) < 1:  # 1 / strength rounded down in floating point
        needed += 1
    return needed


def _signature_default(params: dict[str, inspect.Parameter], name: str) -> Any:
    param = params.get(name)
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default


def _default_size(pipe: Any, params: dict[str, inspect.Parameter]) -> tuple[int, int]:
    """Work out the (width, height) a pipeline generates when not told otherwise."""
    width, height = _signature_default(params, "width"), _signature_default(params, "height")
    if isinstance(width, int) and isinstance(height, int):
        return width, height
    scale = getattr(pipe, "vae_scale_factor", None)
    sample = getattr(pipe, "default_sample_size", None)
    unet = getattr(pipe, "unet", None)
    if sample is None and unet is not None:
        sample = getattr(unet.config, "sample_size", None)
    if isinstance(scale, int) and isinstance(sample, int):
        return sample * scale, sample * scale
    return FALLBACK_SIZE


def _processor_tokenizers(config: dict[str, Any]) -> list[str]:
    """Tokenizer components stored as multimodal processors (Kandinsky 5: ``Qwen2VLProcessor``).

    The pipeline only feeds them text, and the processor's video half needs torchvision, so we load
    these folders as plain tokenizers instead.
    """
    return [
        name
        for name, value in config.items()
        if name.startswith("tokenizer") and isinstance(value, list) and str(value[-1]).endswith("Processor")
    ]


def _pretrained(loader: Any, model: str, kwargs: dict[str, Any], variant: str | None) -> Any:
    """``loader.from_pretrained`` of ``variant``'s weight files, or of the default ones where ``model`` has none
    of them here (a local copy saved without it, or a Hub cache filled before the variant was fetched)."""
    if variant is None:
        return loader.from_pretrained(model, **kwargs)
    try:
        return loader.from_pretrained(model, variant=variant, **kwargs)
    except ValueError as exc:
        if f"variant={variant}" not in str(exc):
            raise
        log.warning("%s: no %s weight files here; loading its default weights", model, variant)
        return loader.from_pretrained(model, **kwargs)


def _load_pipeline(model: str, dtype: torch.dtype, variant: str | None = None, decoder: str | None = None) -> Any:
    """Load ``model`` as a text-to-image pipeline (its ``variant`` weights where it has them), falling back to the
    generic loader; ``decoder`` (an ``AutoencoderTiny``, e.g. TAESD) replaces its VAE, whose files are then not
    read."""
    from diffusers import AutoPipelineForText2Image, DiffusionPipeline
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"dtype": dtype}
    if decoder is not None:
        from diffusers import AutoencoderTiny

        kwargs["vae"] = AutoencoderTiny.from_pretrained(decoder, dtype=dtype)
    config = DiffusionPipeline.load_config(model)
    if "safety_checker" in config:
        # We run our own checks; never download the SD safety checker.
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    text_only = _processor_tokenizers(config)
    kwargs.update(dict.fromkeys(text_only))
    try:
        pipe = _pretrained(AutoPipelineForText2Image, model, kwargs, variant)
    except ValueError as exc:  # e.g. Kandinsky 5: AutoPipeline has no mapping for it
        log.info("AutoPipelineForText2Image cannot load %s (%s); using DiffusionPipeline", model, exc)
        pipe = _pretrained(DiffusionPipeline, model, kwargs, variant)
    pipe.register_modules(**{name: AutoTokenizer.from_pretrained(model, subfolder=name) for name in text_only})
    return pipe


def _step_callbacks(params: dict[str, inspect.Parameter], kwargs: dict[str, Any], on_step: StepCallback) -> dict:
    """The pipeline's step-callback arguments that report ``on_step(done, total)`` over all its denoising loops.

    A combined Kandinsky 2.2 pipeline first runs its prior's own loop (``prior_num_inference_steps``, 25 by
    default) through ``prior_callback_on_step_end``: it is the first part of the bar (by steps), and a cancel
    raised there stops the job before the decoder starts.
    """
    # image-to-image skips the first (1 - strength) of the decoder's schedule; the prior always runs whole
    decoder_steps = max(1, int(kwargs["num_inference_steps"] * kwargs.get("strength", 1.0)))
    prior_steps = 0
    if "prior_callback_on_step_end" in params:
        prior_steps = (
            kwargs.get("prior_num_inference_steps") or _signature_default(params, "prior_num_inference_steps") or 0
        )
    total = prior_steps + decoder_steps

    def reporter(offset: int) -> Callable[[Any, int, Any, dict], dict]:
        def report(_pipe: Any, step: int, _timestep: Any, tensors: dict) -> dict:
            on_step(offset + step + 1, total)
            return tensors

        return report

    callbacks = {"callback_on_step_end": reporter(prior_steps)}
    if prior_steps:
        callbacks["prior_callback_on_step_end"] = reporter(0)
    return callbacks


def _negative_heeded(pipe: Any, params: dict[str, inspect.Parameter], kwargs: dict[str, Any]) -> bool:
    """Whether the pipeline call that just ended read its negative prompt.

    Only classifier-free guidance reads one, and diffusers skips it (dropping the negative prompt without a word)
    at ``guidance_scale`` <= 1: SDXL-Turbo and FLUX.1-schnell run at 0. The pipeline's own
    ``do_classifier_free_guidance`` after the call says what it did; a combined pipeline (Kandinsky 2.2) reads the
    negative prompt in its prior and its decoder, so either guiding counts.
    """
    if "negative_prompt" not in kwargs:
        return False
    if "true_cfg_scale" in params:  # FLUX: guidance_scale is distilled in; only its "true" CFG reads a negative
        scale = kwargs.get("true_cfg_scale", _signature_default(params, "true_cfg_scale"))
        return scale is not None and scale > 1
    stages = [getattr(pipe, name, None) for name in ("prior_pipe", "decoder_pipe")]
    verdicts = [_guided(stage) for stage in [stage for stage in stages if stage is not None] or [pipe]]
    known = [verdict for verdict in verdicts if verdict is not None]
    if known:
        return any(known)
    scale = kwargs.get("guidance_scale", _signature_default(params, "guidance_scale"))
    return scale is None or scale > 1  # not knowing, do not claim it was dropped


def _guided(pipe: Any) -> bool | None:
    """Whether ``pipe``'s last call used classifier-free guidance; ``None`` when it does not say."""
    try:
        return bool(pipe.do_classifier_free_guidance)
    except AttributeError:
        pass
    try:
        scale = pipe.guidance_scale  # Kandinsky 5: guides at guidance_scale > 1, with no flag of its own
    except AttributeError:
        return None
    return scale > 1 if isinstance(scale, int | float) else None


class ImageGenerator:
    """A loaded diffusers text-to-image pipeline with seeded, reproducible generation."""

    def __init__(
        self,
        pipe: Any,
        name: str,
        device: str,
        defaults: GenerationDefaults | None = None,
        vae_tiling: str = "auto",
    ):
        defaults = defaults or GenerationDefaults()
        self.pipe = pipe
        self.name = name
        self.device = device
        self.vae_tiling = vae_tiling
        self._params = dict(inspect.signature(pipe.__call__).parameters)
        self._img2img: tuple[Any, dict[str, inspect.Parameter]] | None = None
        self._no_img2img = False  # diffusers has no image-to-image counterpart: found once, not tried per job
        self._inpaint: tuple[Any, dict[str, inspect.Parameter]] | None = None
        self._no_inpaint = False  # no inpainting counterpart that runs on these weights: found once
        self._call_kwargs = dict(defaults.call_kwargs)
        # After a call given a negative prompt: whether the model read it (see _negative_heeded); else None.
        self.negative_heeded: bool | None = None
        if defaults.resolutions and hasattr(pipe, "resolutions"):
            pipe.resolutions = [tuple(size) for size in defaults.resolutions]
        self.default_size: tuple[int, int] = defaults.size or _default_size(pipe, self._params)
        self.default_steps: int = (
            defaults.steps or _signature_default(self._params, "num_inference_steps") or FALLBACK_STEPS
        )
        self.default_images: int = defaults.images or FALLBACK_IMAGES

    @classmethod
    def from_pretrained(
        cls,
        model: str,
        *,
        device: str = "cpu",
        dtype: torch.dtype | None = None,
        gpu: GpuOptions | None = None,
        decoder: str | None = None,
    ) -> ImageGenerator:
        """Load a diffusers pipeline from a hub id or a local directory and put it on ``device``.

        ``gpu`` says how: CPU offload instead of moving it all, channels-last memory format, ``torch.compile`` of
        the denoiser, VAE tiling. ``decoder`` (hub id or local dir of an ``AutoencoderTiny``) replaces the
        pipeline's VAE: the `cpu` preset's TAESD.
        """
        model = str(model)
        gpu = gpu or GpuOptions()
        device = pick_device(device)
        dtype = pick_dtype(device) if dtype is None else dtype
        defaults = known_defaults(model)
        pipe = _load_pipeline(model, dtype, defaults.variant, decoder)
        if acceleration.wants_channels_last(gpu.channels_last, device, pipe):
            acceleration.use_channels_last(pipe)  # before placing: moving to the device keeps the memory format
        acceleration.place(pipe, device, gpu.cpu_offload)
        if gpu.compile:
            acceleration.compile_denoiser(pipe)
        if gpu.vae_tiling == "on" and not acceleration.tiling_supported(pipe):
            log.warning("MODEL_VAE_TILING=on: the decoder of %s cannot tile; decoding whole", type(pipe).__name__)
        pipe.set_progress_bar_config(disable=True)
        generator = cls(pipe, model, device, defaults, gpu.vae_tiling)
        log.info(
            "loaded generator %s (%s) on %s/%s, default %dx%d, %d steps, %s",
            model,
            type(pipe).__name__,
            device,
            dtype,
            *generator.default_size,
            generator.default_steps,
            gpu,
        )
        return generator

    def size_for(self, aspect: tuple[int, int] | None) -> tuple[int, int]:
        """(width, height) for an aspect ratio: about the model's native pixel count, snapped to its grid.

        A pipeline with a fixed list of ``resolutions`` (Kandinsky 5) gets the one closest in aspect ratio.
        """
        if aspect is None:
            return self.default_size
        resolutions = getattr(self.pipe, "resolutions", None)
        if resolutions:
            return min(resolutions, key=lambda size: abs(math.log(size[0] / size[1] * aspect[1] / aspect[0])))
        area = self.default_size[0] * self.default_size[1]
        ratio = aspect[0] / aspect[1]
        step = self.size_multiple
        width = max(step, round(math.sqrt(area * ratio) / step) * step)
        height = max(step, round(math.sqrt(area / ratio) / step) * step)
        return width, height

    @property
    def size_multiple(self) -> int:
        """Sizes must be multiples of this: the VAE's downscale times the denoiser's own down-sampling."""
        movq_scale = getattr(getattr(self.pipe, "decoder_pipe", self.pipe), "movq_scale_factor", None)
        if isinstance(movq_scale, int):  # Kandinsky 2.x rounds latents up to size / scale², times scale
            return movq_scale * movq_scale
        scale = getattr(self.pipe, "vae_scale_factor", None)
        return scale * 8 if isinstance(scale, int) else 64

    def generate(
        self,
        prompt: str,
        *,
        seed: int,
        num_images: int = 1,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        negative_prompt: str | None = None,
        on_step: StepCallback | None = None,
    ) -> list[Image.Image]:
        """Generate ``num_images`` images for ``prompt``; the same seed and arguments give the same pixels.

        ``on_step(done, total)`` is called after each denoising step (for progress reports); a pipeline with a
        prior (Kandinsky 2.2) counts the prior's steps first. An exception it raises stops the pipeline there.
        Afterwards :attr:`negative_heeded` says whether the model read ``negative_prompt``.
        """
        if num_images < 1:
            raise ValueError(f"num_images must be >= 1, got {num_images}")
        kwargs = self._build_call_kwargs(prompt, num_images, width, height, steps, negative_prompt)
        size = (kwargs["width"], kwargs["height"])
        return self._run(self.pipe, self._params, kwargs, seed, on_step, size, negative_asked=bool(negative_prompt))

    def vary(
        self,
        image: Image.Image,
        prompt: str,
        *,
        seed: int,
        strength: float = 0.6,
        num_images: int = 1,
        steps: int | None = None,
        negative_prompt: str | None = None,
        on_step: StepCallback | None = None,
        size: tuple[int, int] | None = None,
    ) -> list[Image.Image]:
        """Variations of ``image`` (image-to-image with the same prompt), at the image's own size unless ``size``
        (width, height) is given (a user's photo: its aspect ratio at the model's own pixel count).

        ``strength`` 0..1 is how far to move away from it. Raises :class:`VariationsUnsupported` for a
        pipeline diffusers has no image-to-image counterpart for.
        """
        pipe, params = self._image_to_image()
        size = size or self.size_near(image.size)
        steps = image_to_image_steps(steps or self.default_steps, strength)
        kwargs = self._build_call_kwargs(prompt, num_images, *size, steps, negative_prompt)
        if "width" not in params:  # e.g. Stable Diffusion: the output has the image's size
            del kwargs["width"], kwargs["height"]
        elif type(pipe).__name__ in SWAPPED_SIZE_IMG2IMG:
            kwargs.update(width=None, height=None)
        start = image.convert("RGB").resize(size)
        # one prompt per image: the pipeline's own duplication of a single image is deprecated
        kwargs.update(prompt=[prompt] * num_images, num_images_per_prompt=1, image=[start] * num_images)
        if "negative_prompt" in kwargs:
            kwargs["negative_prompt"] = [kwargs["negative_prompt"]] * num_images
        kwargs["strength"] = strength
        return self._run(pipe, params, kwargs, seed, on_step, size, negative_asked=bool(negative_prompt))

    @property
    def makes_variations(self) -> bool:
        """Whether :meth:`vary` works: diffusers has an image-to-image counterpart of this pipeline."""
        try:
            self._image_to_image()
        except VariationsUnsupported:
            return False
        return True

    def size_near(self, size: tuple[int, int]) -> tuple[int, int]:
        """``size`` snapped to the model's grid."""
        step = self.size_multiple
        width, height = (max(step, round(side / step) * step) for side in size)
        return width, height

    def _image_to_image(self) -> tuple[Any, dict[str, inspect.Parameter]]:
        if self._no_img2img:
            raise VariationsUnsupported(type(self.pipe).__name__)
        if self._img2img is None:
            from diffusers import AutoPipelineForImage2Image

            try:
                pipe = AutoPipelineForImage2Image.from_pipe(self.pipe)  # shares the weights: no extra memory
            except (ValueError, KeyError) as exc:
                self._no_img2img = True
                raise VariationsUnsupported(type(self.pipe).__name__) from exc
            pipe.set_progress_bar_config(disable=True)
            self._img2img = (pipe, dict(inspect.signature(pipe.__call__).parameters))
        return self._img2img

    def outpaint(
        self,
        image: Image.Image,
        code: str,
        prompt: str,
        *,
        seed: int,
        num_images: int = 1,
        steps: int | None = None,
        negative_prompt: str | None = None,
        on_step: StepCallback | None = None,
    ) -> list[Image.Image]:
        """Zoom out of ``image`` or pan it (``code``: one of ``core.protocol.OUTPAINT_CODES``), painting the new
        border with the inpainting pipeline of this family; the picture itself is composited back over the result
        with a soft seam (:mod:`models.outpaint`). The output has about the model's own pixel count.

        Raises :class:`OutpaintingUnsupported` for a pipeline with no inpainting counterpart that runs on its weights.
        """
        pipe, params = self._inpainting()
        plan = outpaint.layout(image.size, code, self.size_for)
        start, paint_mask = outpaint.start_image(image, plan), outpaint.mask(plan)
        kwargs = self._build_call_kwargs(prompt, num_images, *plan.size, steps, negative_prompt)
        kwargs.update(
            prompt=[prompt] * num_images,
            num_images_per_prompt=1,
            image=[start] * num_images,
            mask_image=[paint_mask] * num_images,
            strength=1.0,  # the border starts from noise; the known area is kept by the mask
        )
        if "negative_prompt" in kwargs:
            kwargs["negative_prompt"] = [kwargs["negative_prompt"]] * num_images
        painted = self._run(pipe, params, kwargs, seed, on_step, plan.size, negative_asked=bool(negative_prompt))
        return [outpaint.composite(picture, start, paint_mask) for picture in painted]

    @property
    def makes_outpaintings(self) -> bool:
        """Whether :meth:`outpaint` works: this family's inpainting pipeline runs on the loaded weights."""
        try:
            self._inpainting()
        except OutpaintingUnsupported:
            return False
        return True

    def _inpainting(self) -> tuple[Any, dict[str, inspect.Parameter]]:
        """The inpainting pipeline sharing this one's weights (``from_pipe``: no second copy in memory)."""
        if self._no_inpaint:
            raise OutpaintingUnsupported(type(self.pipe).__name__)
        if self._inpaint is None:
            from diffusers import AutoPipelineForInpainting

            try:
                pipe = AutoPipelineForInpainting.from_pipe(self.pipe)
            except (ValueError, KeyError) as exc:
                self._no_inpaint = True
                raise OutpaintingUnsupported(type(self.pipe).__name__) from exc
            if not _inpaint_unet_fits(pipe):
                log.info("%s needs an inpainting UNet; %s cannot outpaint", type(pipe).__name__, self.name)
                self._no_inpaint = True
                raise OutpaintingUnsupported(type(self.pipe).__name__)
            pipe.set_progress_bar_config(disable=True)
            self._inpaint = (pipe, dict(inspect.signature(pipe.__call__).parameters))
        return self._inpaint

    def _run(
        self,
        pipe: Any,
        params: dict[str, inspect.Parameter],
        kwargs: dict[str, Any],
        seed: int,
        on_step: StepCallback | None,
        size: tuple[int, int],
        *,
        negative_asked: bool,
    ) -> list[Image.Image]:
        """Call ``pipe`` once, seeded, with the step callbacks; note whether it read the negative prompt."""
        acceleration.set_vae_tiling(pipe, acceleration.wants_tiling(self.vae_tiling, *size))
        kwargs["generator"] = torch.Generator(self.device).manual_seed(seed)
        if on_step is not None and "callback_on_step_end" in params:
            kwargs.update(_step_callbacks(params, kwargs, on_step))
        self.negative_heeded = None
        with torch.inference_mode():
            output = pipe(**kwargs)
        if negative_asked:
            self.negative_heeded = _negative_heeded(pipe, params, kwargs)
        return list(output[0])

    def _build_call_kwargs(
        self,
        prompt: str,
        num_images: int,
        width: int | None,
        height: int | None,
        steps: int | None,
        negative_prompt: str | None,
    ) -> dict[str, Any]:
        default_width, default_height = self.default_size
        kwargs: dict[str, Any] = {
            **self._call_kwargs,
            "prompt": prompt,
            "num_images_per_prompt": num_images,
            "width": width or default_width,
            "height": height or default_height,
            "num_inference_steps": steps or self.default_steps,
            "output_type": "pil",
            "return_dict": False,
        }
        if negative_prompt:
            if "negative_prompt" in self._params:
                kwargs["negative_prompt"] = negative_prompt
            else:
                log.warning("%s does not take a negative prompt; ignoring it", type(self.pipe).__name__)
        return kwargs

    def __repr__(self) -> str:
        return f"ImageGenerator(name={self.name!r}, device={self.device!r}, pipeline={type(self.pipe).__name__})"
