"""Model presets (which generator and classifier to run) and loading them once per worker.

Importing this module is cheap (no torch): frontends may validate preset names with it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from models.acceleration import GpuOptions
    from models.classifier import ZeroShotClassifier
    from models.generator import ImageGenerator
    from models.prompt_writer import LazyPromptWriter
    from models.translation import Translator
    from models.upscaler import UpscalerSlot

log = logging.getLogger(__name__)

AUTO = "auto"
CPU = "cpu"  # the preset `auto` picks without a GPU: a one-step model that paints in seconds on a laptop's CPU
TEXT_EMBEDDINGS_DIR = "text-embeddings"  # under the model cache dir: label-set embeddings (models.embedding_store)
RUCLIP_CONVERSIONS_DIR = "ruclip"  # under the model cache dir: ruCLIP checkpoints converted to CLIPModel
OPENVINO_DIR = "openvino"  # under the model cache dir: the generator's UNet and decoder as OpenVINO IR
TINY = "tiny"
SMALL_MODELS_DTYPE = "float32"  # the classifier's and the translator's weights (models.device.small_dtype)
# The seeds' classifier: a ruCLIP checkpoint, converted to a transformers CLIPModel by models.ruclip
# (the other ruCLIP sizes, e.g. ai-forever/ruclip-vit-large-patch14-224, load the same way).
RUCLIP = "ai-forever/ruclip-vit-base-patch32-384"
# An alternative classifier: any transformers zero-shot model id works, e.g. multilingual SigLIP.
SIGLIP_MULTILINGUAL = "google/siglip-base-patch16-256-multilingual"
# Translates prompts for generators that read only English (MarianMT, transformers).
RU_EN_TRANSLATOR = "Helsinki-NLP/opus-mt-ru-en"
# The tiny autoencoder (diffusers' AutoencoderTiny) of the SD 1.x/2.x latent space: replaces SD-Turbo's VAE decoder,
# ~40x fewer operations per 512x512 picture at a small loss of fine detail.
TAESD = "madebyollin/taesd"
# Super-resolution (⤴ ×2 / ×4, --up): Sber's Real-ESRGAN ×4 (the ruDALL-E third stage), "<hub id>:<file>", read by
# spandrel (models.upscaler); ×2 runs it and resizes down. MODEL_UPSCALER replaces it, "off" goes without.
REAL_ESRGAN_X4 = "ai-forever/Real-ESRGAN:RealESRGAN_x4.pth"
UPSCALER_OFF = "off"

# ✨ prompt enhancement (models.prompt_writer): a small instruction-tuned LLM that writes Russian, for presets whose
# generator brings none; Qwen2.5-1.5B-Instruct writes better Russian for 3x the memory (docs/deploy.md).
DEFAULT_PROMPT_WRITER = "Qwen/Qwen2.5-0.5B-Instruct"
GENERATOR_TEXT_ENCODER = "(the generator's text encoder)"  # Kandinsky 5's Qwen2.5-VL writes, as in its own code
TINY_PROMPT_WRITER = "(built by models.tiny_families.ensure_tiny_prompt_writer)"
PROMPT_WRITER_OFF = "off"  # MODEL_PROMPT_WRITER=off: no writer; --enhance paints the prompt as typed, and says so

# --- GPU memory of a whole worker ---------------------------------------------------------------------------------
# All memory figures are in GB of 2**30 bytes (GiB): how cards are sold ("24 GB") and how torch and nvidia-smi
# count them. They are ESTIMATES from parameter counts, not measurements: no GPU was at hand. bench/gpu_check.py
# measures them (peak per preset at its default picture, offload off and on); put its figures here with their
# `source`, and docs/deploy.md's VRAM table with them.
GB = 2**30
ESTIMATE = "estimate"
# What the CUDA context (kernels of torch, cuBLAS, cuDNN) takes on the card before any tensor: not counted by
# torch's allocator statistics, so kept apart from the per-preset figures. Estimate.
CUDA_CONTEXT_GB = 0.8
OFFLOAD_AUTO = "auto"  # MODEL_CPU_OFFLOAD=auto: decided here from these figures (models.acceleration.GpuOptions)


@dataclass(frozen=True)
class MemoryFigures:
    """The most GPU memory one worker running a preset holds, for ``MODEL_PRESET=auto``, ``MODEL_CPU_OFFLOAD=auto``
    and the VRAM table in docs/deploy.md (GB = 2**30 bytes).

    A worker is the generator, the classifier (float32) and, for a generator that reads no Russian, the translator
    (float32), painting the preset's default picture (one image, default size and steps): what
    ``torch.cuda.max_memory_reserved()`` reports after that picture, allocator slack included. The CUDA context
    (``CUDA_CONTEXT_GB``) comes on top. Larger pictures, ``--n 4`` and ``--best 8`` need more.
    """

    weights: float  # the generator's weights at 16 bits (bf16/fp16), for the docs
    peak: float  # the whole worker, offload off, on a bf16 card
    peak_offload: float  # the same with MODEL_CPU_OFFLOAD=model: the largest single model plus the small ones
    fp16_extra: float = 0.0  # more on float16-only cards (before Ampere, MPS), offload off
    fp16_extra_offload: float = 0.0  # the same with model offload
    source: str = ESTIMATE  # "estimate", or where a measurement came from (bench/gpu_check.py, card, date)

    def needed(self, *, offload: bool, bf16: bool = True) -> float:
        """GB a card must have for this worker: its peak, the float16 extra if any, and the CUDA context."""
        peak, extra = (self.peak_offload, self.fp16_extra_offload) if offload else (self.peak, self.fp16_extra)
        return round(CUDA_CONTEXT_GB + peak + (0.0 if bf16 else extra), 2)


@dataclass(frozen=True)
class HostMemory:
    """The RAM one worker running a preset on the CPU holds at most (GB = 2**30 bytes), for the memory table in
    docs/deploy.md: the generator in float32 (or bfloat16, ``MODEL_CPU_DTYPE``), the classifier and the translator
    in float32, the torch runtime and one default picture's activations. ``bench/cpu_preset.py`` measures it (the
    worker's RSS); put its figure here with its ``source``."""

    weights: float  # the generator's weights in float32
    worker: float  # the whole worker's RSS, generator in float32
    worker_bf16: float  # the same with MODEL_CPU_DTYPE=bfloat16 (half the generator's weights)
    source: str = ESTIMATE


@dataclass(frozen=True)
class ModelPreset:
    """A named set of models: a diffusers generator, a zero-shot classifier and, if needed, a translator."""

    name: str
    generator: str  # hub id or local dir
    classifier: str  # hub id or local dir
    generator_reads_russian: bool  # False: prompts are translated ru->en first, by `translator`
    description: str
    translator: str = RU_EN_TRANSLATOR  # hub id or local dir of a MarianMT ru->en model
    memory: MemoryFigures | None = None  # None: runs anywhere (tiny), or a CPU preset
    decoder: str | None = None  # hub id or local dir of an AutoencoderTiny that replaces the pipeline's VAE
    host_memory: HostMemory | None = None  # RAM of a worker running it on the CPU (the `cpu` preset)
    channels_last: str = "auto"  # what MODEL_CHANNELS_LAST=auto means for it (models.acceleration)
    images: int | None = None  # pictures per request that names no count; None: the generator's (GenerationDefaults)
    upscaler: str | None = REAL_ESRGAN_X4  # super-resolution weights (models.upscaler); None: no ⤴
    prompt_writer: str = DEFAULT_PROMPT_WRITER  # ✨: hub id or local dir of a causal LM, or GENERATOR_TEXT_ENCODER
    cpu_backend: str = "torch"  # what MODEL_CPU_BACKEND=auto runs on the CPU where its package is installed


PRESETS: dict[str, ModelPreset] = {
    TINY: ModelPreset(
        name=TINY,
        generator="(built by models.tiny.ensure_tiny_models)",
        classifier="(built by models.tiny.ensure_tiny_models)",
        generator_reads_russian=True,  # byte-level tokenizer; nothing to download for translation
        description="tiny random models built locally: offline, CPU, for tests and development (noise images)",
        prompt_writer=TINY_PROMPT_WRITER,
    ),
    CPU: ModelPreset(
        name=CPU,
        generator="stabilityai/sd-turbo",
        classifier=RUCLIP,
        generator_reads_russian=False,
        description="SD-Turbo, 1 step at 512x512 with the tiny TAESD decoder: real pictures on a CPU, no GPU needed",
        decoder=TAESD,
        # UNet 866 M + OpenCLIP-H text encoder 340 M + TAESD 2.4 M = 1.21 B parameters: 4.5 GB in float32. The worker
        # adds ruCLIP (0.56) and MarianMT (0.29) in float32, Real-ESRGAN (0.07) and Qwen2.5-0.5B for ✨ (1.0 in
        # bfloat16, 2.0 in float32), the runtime and a 512x512 picture. Peak RSS of the whole worker measured (random
        # weights at real size, from the fp16 files it downloads): 8.4 in float32 (torch), 5.2 in bfloat16 on OpenVINO
        # (MODEL_CPU_BACKEND=auto with the extra; its first start, converting, included), 4.3 on torch.
        host_memory=HostMemory(
            weights=4.5, worker=8.4, worker_bf16=5.2, source="bench/cpu_preset.py, 2 vCPU AMD EPYC, 2026-12-07"
        ),
        # channels-last stays off (auto on a CPU): measured at real size on 2 cores it made a picture slower in float32
        # (6.9 s against 6.2 s) and kept ~2 GB more resident (bench/cpu_preset.py, docs/benchmarks.md)
        # SD-Turbo paints 4 by default on a GPU; on two cores a picture takes ~3 s (the target): one, not a 12 s grid
        images=1,
        # OpenVINO paints its picture 1.4x faster than torch on 2 cores in bfloat16 (2.7 s against 3.6-3.8 s,
        # bench/cpu_preset.py): MODEL_CPU_BACKEND=auto runs it where the `openvino` extra is installed
        cpu_backend="openvino",
    ),
    "quality": ModelPreset(
        name="quality",
        generator="kandinskylab/Kandinsky-5.0-T2I-Lite-sft-Diffusers",
        classifier=RUCLIP,
        generator_reads_russian=True,
        description="Kandinsky 5.0 Image Lite: best quality, reads Russian; needs a 40 GB GPU (24 GB with offload)",
        # DiT 6.0 B + Qwen2.5-VL-7B text encoder 8.3 B + CLIP text 0.12 B + VAE 0.08 B = 14.5 B parameters.
        # Peak: all weights, the 1024² decode (~2.5) and slack; with offload the Qwen encoder is the largest model.
        memory=MemoryFigures(weights=27.0, peak=32.5, peak_offload=17.5),
        # Kandinsky 5's own inference code (kandinsky/t2i_pipeline.py, expand_prompt) rewrites prompts with this
        # Qwen2.5-VL-7B text encoder: the ✨ writer shares it, no second LLM in memory
        prompt_writer=GENERATOR_TEXT_ENCODER,
    ),
    "compact": ModelPreset(
        name="compact",
        generator="kandinsky-community/kandinsky-2-2-decoder",
        classifier=RUCLIP,
        generator_reads_russian=False,
        description="Kandinsky 2.2 (prior + decoder): fits 16 GB GPUs; Russian prompts translated to English",
        # Prior 1.0 B + its CLIP-ViT-G image encoder 1.84 B (run for the empty negative embedding) + CLIP-G text
        # encoder 0.69 B + decoder UNet 1.22 B + MoVQ 0.07 B = 4.8 B parameters. Peak: all weights, the 768² UNet
        # steps with guidance and the MoVQ decode (~1.2), slack; with offload the image encoder is the largest.
        memory=MemoryFigures(weights=9.0, peak=12.0, peak_offload=4.9),
    ),
    "fast": ModelPreset(
        name="fast",
        generator="stabilityai/sdxl-turbo",
        classifier=RUCLIP,
        generator_reads_russian=False,
        description="SDXL-Turbo: 4 steps at 512x512, fits 12 GB GPUs (8 GB with offload); prompts translated",
        # UNet 2.57 B + two CLIP text encoders 0.82 B + VAE 0.08 B = 3.5 B parameters. Peak: all weights, the 512²
        # decode (~0.6), slack; with offload the UNet (4.8) is the largest model. On float16 cards diffusers decodes
        # in float32 (the VAE's force_upcast): +0.8 while everything is on the card, nothing with offload, where
        # the VAE decodes alone, below the UNet's peak.
        memory=MemoryFigures(weights=6.5, peak=8.8, peak_offload=6.4, fp16_extra=0.8),
    ),
}

# What MODEL_PRESET=auto tries under MODEL_CPU_OFFLOAD=auto; the first that fits the card wins. Without offload the
# best picture first. Where no preset fits without it, model offload: `fast` first (small cards are slow cards, and
# offload adds weight transfers to every picture), then `compact`, whose largest single model is smaller (~6 GB
# cards). `quality` never gets offload by itself: minutes a picture on a 24 GB card, where `compact` takes seconds.
AUTO_ORDER: tuple[tuple[str, str], ...] = (
    ("quality", "none"),
    ("compact", "none"),
    ("fast", "none"),
    ("fast", "model"),
    ("compact", "model"),
)
# Under an explicit MODEL_CPU_OFFLOAD, auto takes the best preset that fits with it.
QUALITY_ORDER = ("quality", "compact", "fast")


@dataclass
class LoadedModels:
    """Models loaded once by a worker, with where and how they run."""

    preset: ModelPreset
    generator: ImageGenerator
    classifier: ZeroShotClassifier
    device: str
    dtype: torch.dtype
    load_seconds: float
    translator: Translator | None = None  # loaded only for a generator that does not read Russian
    upscaler: UpscalerSlot | None = None  # ⤴ ×2 / ×4 and --up; None: MODEL_UPSCALER=off
    prompt_writer: LazyPromptWriter | None = None  # ✨ enhancement; None: MODEL_PROMPT_WRITER=off

    @property
    def default_images(self) -> int:
        """Pictures a request gets when it names no count: the preset's choice, else its generator's."""
        return self.preset.images or self.generator.default_images

    def generator_words(self, prompt: str, negative: str | None) -> tuple[str, str | None]:
        """``prompt`` and ``negative`` as the generator should get them: in English (one batch) if it needs it."""
        if self.translator is None:
            return prompt, negative
        translated = self.translator.translate([prompt, negative] if negative else [prompt])
        return translated[0], translated[1] if negative else negative


@dataclass(frozen=True)
class Card:
    """The accelerator a worker runs on, as ``MODEL_PRESET=auto`` sees it."""

    device: str  # cuda, cuda:1, mps
    name: str
    memory: float  # total memory, GB (2**30 bytes)
    bf16: bool  # computes in bfloat16 (else float16: the float16 extras apply)
    can_offload: bool = True  # False on MPS: its memory is the CPU's, offload frees nothing


@dataclass(frozen=True)
class MemoryPlan:
    """Which preset a worker runs and with which CPU offload, and why (the log line)."""

    preset: str
    offload: str  # none | model | sequential
    reason: str
    warn: bool = False  # the choice may not fit, or is a fallback: log it as a warning


def _card(device: str) -> Card | None:
    """The accelerator behind ``device``, or None for the CPU."""
    import torch

    from models.device import pick_dtype

    kind = torch.device(device).type
    bf16 = kind != "cpu" and pick_dtype(device) == torch.bfloat16
    if kind == "cuda":
        props = torch.cuda.get_device_properties(torch.device(device))
        return Card(device, props.name, props.total_memory / GB, bf16)
    if kind == "mps":
        return Card(device, "Apple GPU", torch.mps.recommended_max_memory() / GB, bf16, can_offload=False)
    return None


def _describe(card: Card) -> str:
    return f"{card.device} ({card.name}, {card.memory:.1f} GB, {'bfloat16' if card.bf16 else 'float16'})"


def _need(name: str, offload: str, card: Card) -> float:
    """GB the preset's worker needs on ``card``; sequential offload is judged by model offload's (higher) figure."""
    memory = PRESETS[name].memory
    return 0.0 if memory is None else memory.needed(offload=offload != "none", bf16=card.bf16)


def _figure(name: str, offload: str, card: Card) -> str:
    memory = PRESETS[name].memory
    source = memory.source if memory else ESTIMATE
    mode = "without offload" if offload == "none" else f"with {offload} offload"
    return f"{name} needs {_need(name, offload, card):.1f} GB {mode} ({source})"


def _pick_auto(offload: str, card: Card) -> MemoryPlan:
    """``MODEL_PRESET=auto`` on ``card``: the first candidate that fits (``AUTO_ORDER``, or ``QUALITY_ORDER``
    under an explicit ``offload``)."""
    if offload == OFFLOAD_AUTO:
        candidates = [(name, mode) for name, mode in AUTO_ORDER if mode == "none" or card.can_offload]
    else:
        candidates = [(name, offload) for name in QUALITY_ORDER]
    tried = []
    for name, mode in candidates:
        tried.append(_figure(name, mode, card))
        if _need(name, mode, card) <= card.memory:
            how = f"MODEL_CPU_OFFLOAD={mode}" if mode != "none" else "no CPU offload"
            reason = f"MODEL_PRESET=auto on {_describe(card)}: {'; '.join(tried)}: using {name!r} with {how}"
            return MemoryPlan(name, mode, reason)
    reason = (
        f"MODEL_PRESET=auto on {_describe(card)}: too little for any real preset ({'; '.join(tried)}); using "
        f"{TINY!r} (tiny random models, noise images). MODEL_CPU_OFFLOAD=sequential or a larger card runs a real one, "
        f"and MODEL_DEVICE=cpu MODEL_PRESET={CPU} paints real pictures on the CPU"
    )
    return MemoryPlan(TINY, "none", reason, warn=True)


def _offload_for(name: str, card: Card) -> MemoryPlan:
    """``MODEL_CPU_OFFLOAD=auto`` for a preset the operator chose: off where it fits, else model offload."""
    tried = [_figure(name, "none", card)]
    if _need(name, "none", card) <= card.memory:
        return MemoryPlan(name, "none", f"preset {name!r} on {_describe(card)}: {tried[0]}: no CPU offload")
    if not card.can_offload:
        reason = f"preset {name!r} on {_describe(card)}: {tried[0]}; it may run out of memory (no offload here)"
        return MemoryPlan(name, "none", reason, warn=True)
    tried.append(_figure(name, "model", card))
    fits = _need(name, "model", card) <= card.memory
    advice = "" if fits else "; it may still run out of memory: MODEL_CPU_OFFLOAD=sequential needs far less"
    reason = f"preset {name!r} on {_describe(card)}: {'; '.join(tried)}: using MODEL_CPU_OFFLOAD=model{advice}"
    return MemoryPlan(name, "model", reason, warn=not fits)


def plan_memory(preset: str, offload: str, card: Card | None) -> MemoryPlan:
    """Choose the preset (for ``auto``) and the CPU offload (for ``auto``) a worker runs on ``card``.

    Pure: decided from ``MemoryFigures`` and the card, so that every card size can be tested without one.
    ``auto`` picks the best preset that fits without offload; only where none does, model offload (``AUTO_ORDER``).
    An explicit ``offload`` is kept as it is (``auto`` then picks the best preset that fits with it); ``auto``
    offload with an explicit preset turns on only where that preset does not fit without it. An unknown preset
    name is passed through for ``resolve_preset`` to refuse.
    """
    key = preset.strip().lower()
    if card is None:
        if key == AUTO:
            reason = (
                f"MODEL_PRESET=auto: no CUDA or MPS device found, using {CPU!r} ({PRESETS[CPU].description}); "
                f"MODEL_PRESET={TINY} paints noise offline, for development"
            )
            return MemoryPlan(CPU, "none", reason)
        return MemoryPlan(key, "none" if offload == OFFLOAD_AUTO else offload, f"preset {key!r} on the CPU")
    if key == AUTO:
        return _pick_auto(offload, card)
    if key not in PRESETS or PRESETS[key].memory is None:
        return MemoryPlan(key, "none" if offload == OFFLOAD_AUTO else offload, f"preset {key!r} on {_describe(card)}")
    if offload == OFFLOAD_AUTO:
        return _offload_for(key, card)
    fits = _need(key, offload, card) <= card.memory
    reason = f"preset {key!r} on {_describe(card)}: {_figure(key, offload, card)}; MODEL_CPU_OFFLOAD={offload} as set"
    return MemoryPlan(key, offload, reason + ("" if fits else ": it may run out of memory"), warn=not fits)


def plan_for_device(preset: str, offload: str, device: str | None) -> MemoryPlan:
    """:func:`plan_memory` for this machine's ``device`` (None: the best one), logged with its reason."""
    from models.device import pick_device

    plan = plan_memory(preset, offload, _card(pick_device(device)))
    log.log(logging.WARNING if plan.warn else logging.INFO, "%s", plan.reason)
    return plan


def resolve_preset(
    name: str,
    cache_dir: Path,
    *,
    device: str | None = None,
    generator: str | None = None,
    translator: str | None = None,
    cpu_offload: str = OFFLOAD_AUTO,
    classifier: str | None = None,
    upscaler: str | None = None,
) -> ModelPreset:
    """Return the preset called ``name`` (``"auto"`` picks one for ``device``, as a worker with ``cpu_offload``
    (``MODEL_CPU_OFFLOAD``) would: see :func:`plan_memory`).

    ``"tiny"`` builds the tiny models into ``cache_dir`` if missing and points the preset at them.
    ``generator`` (``MODEL_GENERATOR``) replaces the preset's generator; whether it reads Russian is then
    what ``models.generator.known_defaults`` knows of it (unknown models get their prompts translated).
    ``translator`` (``MODEL_TRANSLATOR``) replaces the ru→en model; ``classifier`` (``MODEL_CLASSIFIER``) the
    zero-shot classifier (a ruCLIP checkpoint or any transformers CLIP/SigLIP, hub id or local dir); ``upscaler``
    (``MODEL_UPSCALER``) the super-resolution weights (``off``: none; the tiny preset builds a tiny RRDBNet).
    An unknown name raises ``ValueError`` listing the valid ones.
    """
    key = name.strip().lower()
    if key == AUTO:
        key = plan_for_device(key, cpu_offload, device).preset
    if key not in PRESETS:
        valid = ", ".join([*PRESETS, AUTO])
        raise ValueError(f"unknown model preset {name!r}; valid presets: {valid}")
    preset = PRESETS[key]
    if key == TINY:
        from models.tiny import ensure_tiny_models

        tiny_generator, tiny_classifier = ensure_tiny_models(Path(cache_dir))
        preset = dataclasses.replace(preset, generator=str(tiny_generator), classifier=str(tiny_classifier))
    if generator:
        from models.generator import known_defaults

        reads_russian = known_defaults(generator).reads_russian
        preset = dataclasses.replace(preset, generator=generator, generator_reads_russian=reads_russian)
    if translator:
        preset = dataclasses.replace(preset, translator=translator)
    if classifier:
        preset = dataclasses.replace(preset, classifier=classifier)
    return _with_upscaler(preset, cache_dir, upscaler)


def _with_upscaler(preset: ModelPreset, cache_dir: Path, upscaler: str | None) -> ModelPreset:
    """``preset`` with ``MODEL_UPSCALER`` applied (``off``: none), or the tiny RRDBNet for the tiny preset."""
    if upscaler:
        return dataclasses.replace(preset, upscaler=None if upscaler.strip().lower() == UPSCALER_OFF else upscaler)
    if preset.name == TINY:
        from models.tiny import ensure_tiny_upscaler

        return dataclasses.replace(preset, upscaler=str(ensure_tiny_upscaler(Path(cache_dir))))
    return preset


def gpu_plan(
    preset_name: str, gpu: GpuOptions | None, device: str, *, generator: str | None = None
) -> tuple[str, GpuOptions]:
    """The preset to load and the ``GpuOptions`` to load it with, ``auto`` (preset and offload) decided.

    ``gpu`` None means ``MODEL_CPU_OFFLOAD=auto``. With ``generator`` (``MODEL_GENERATOR``) the table describes
    another model than the one loaded, so auto offload stays off there: the operator sets it.
    """
    from models.acceleration import GpuOptions

    gpu = gpu or GpuOptions(cpu_offload=OFFLOAD_AUTO)
    plan = plan_for_device(preset_name, gpu.cpu_offload, device)
    offload = plan.offload
    if generator and gpu.cpu_offload == OFFLOAD_AUTO and offload != "none":
        log.info("MODEL_GENERATOR=%s: the memory figures are the preset's, not its; no CPU offload", generator)
        offload = "none"
    return plan.preset, dataclasses.replace(gpu, cpu_offload=offload)


def generator_dtype(device: str, gpu: GpuOptions, preset_name: str = "") -> torch.dtype:
    """The generator's dtype: the device's (`models.device.pick_dtype`), or on the CPU ``gpu.cpu_dtype``
    (bfloat16 halves the weights and, on CPUs with AVX-512 BF16 or AMX, speeds up the matrix products).

    ``auto`` on the CPU: bfloat16 where the CPU computes in it natively (`models.device.native_bf16`: measured 3.5 s
    a picture against 6.2 s in float32 on the cpu preset), float32 elsewhere (emulated bfloat16 is slower) and for
    the tiny preset (test-size models gain nothing, and its tests compare float32 pictures).
    """
    import torch

    from models.device import native_bf16, pick_dtype

    chosen = gpu.cpu_dtype
    if device.split(":")[0] == "cpu" and chosen == AUTO:
        chosen = "bfloat16" if preset_name != "tiny" and native_bf16() else "float32"
        log.info("MODEL_CPU_DTYPE=auto: the generator runs in %s on this CPU", chosen)
    if device.split(":")[0] == "cpu" and chosen != "float32":
        return getattr(torch, chosen)
    return pick_dtype(device)  # float32 on the CPU


def load_models(
    preset_name: str,
    cache_dir: Path,
    device: str | None = None,
    *,
    generator: str | None = None,
    translator: str | None = None,
    classifier: str | None = None,
    gpu: GpuOptions | None = None,
    small_models_dtype: str = SMALL_MODELS_DTYPE,
    threads: int = 0,
    upscaler: str | None = None,
    upscaler_lazy: bool = False,
    prompt_writer: str | None = None,
    prompt_writer_timeout: float = 90.0,
    prompt_writer_lazy: bool = False,
) -> LoadedModels:
    """Resolve ``preset_name`` and load its models onto ``device`` (None: best), once per worker.

    ``generator``, ``translator`` and ``classifier`` override the preset's (see :func:`resolve_preset`); ``gpu``
    says how the generator runs (offload, compile, VAE tiling); its ``cpu_offload="auto"`` (the default with ``gpu``
    None) and ``preset_name="auto"`` are decided by :func:`gpu_plan` from the memory figures. The translator is
    loaded only if the generator needs it. The generator runs in the device's dtype (bf16/fp16 on a GPU); the
    classifier and the translator in ``small_models_dtype`` (``MODEL_SMALL_MODELS_DTYPE``, float32 by default, see
    `models.device.small_dtype`).
    On the CPU, torch gets ``threads`` intra-op threads (``MODEL_THREADS``; 0: the CPUs this process may use, see
    `models.device.cpu_threads`) and the generator ``gpu.cpu_dtype`` (``MODEL_CPU_DTYPE``); the preset's own
    ``channels_last`` stands for ``MODEL_CHANNELS_LAST=auto``.
    The upscaler (``upscaler``: ``MODEL_UPSCALER``, else the preset's) is loaded here too, or on its first job with
    ``upscaler_lazy`` (``MODEL_UPSCALER_LAZY``).
    The ✨ prompt writer is ``prompt_writer`` (``MODEL_PROMPT_WRITER``; ``off``: none), else the preset's: loaded here,
    or at its first use with ``prompt_writer_lazy``; a generator's own LLM text encoder is shared, never loaded twice.
    The default label set's text embeddings are made ready here (warm-up: the first user does not pay for them),
    read from ``cache_dir/text-embeddings`` when a previous start stored them for the same weights.
    """
    from models.classifier import ZeroShotClassifier
    from models.device import pick_device, small_dtype
    from models.generator import ImageGenerator
    from models.labels import default_labels

    started = time.perf_counter()
    device = pick_device(device)
    preset_name, gpu = gpu_plan(preset_name, gpu, device, generator=generator)
    dtype, small = generator_dtype(device, gpu, preset_name), small_dtype(small_models_dtype, device)
    preset = resolve_preset(
        preset_name,
        cache_dir,
        device=device,
        generator=generator,
        translator=translator,
        classifier=classifier,
        upscaler=upscaler,
    )
    if device.split(":")[0] == "cpu":
        from models.device import set_cpu_threads

        set_cpu_threads(threads)
    gpu = _check_cpu_backend(gpu, device, preset)
    if gpu.channels_last == AUTO and preset.channels_last != AUTO:
        gpu = dataclasses.replace(gpu, channels_last=preset.channels_last)
    image_generator = ImageGenerator.from_pretrained(
        preset.generator, device=device, dtype=dtype, gpu=gpu, decoder=None if generator else preset.decoder
    )
    if gpu.cpu_backend == "openvino":
        from models.openvino_backend import use_openvino

        use_openvino(image_generator.pipe, Path(cache_dir) / OPENVINO_DIR, dtype)
    zero_shot = ZeroShotClassifier.from_pretrained(
        preset.classifier,
        device=device,
        dtype=small,
        embedding_dir=Path(cache_dir) / TEXT_EMBEDDINGS_DIR,
        conversion_dir=Path(cache_dir) / RUCLIP_CONVERSIONS_DIR,
    )
    zero_shot.preload_labels(default_labels())
    ru_en = None
    if not preset.generator_reads_russian:
        from models.translation import Translator

        ru_en = Translator.from_pretrained(preset.translator, device=device, dtype=small)
    super_resolution = None
    if preset.upscaler:
        from models.upscaler import UpscalerSlot

        super_resolution = UpscalerSlot(preset.upscaler, device, lazy=upscaler_lazy)
    writer = _prompt_writer(
        prompt_writer or preset.prompt_writer, cache_dir, image_generator, device, dtype, prompt_writer_timeout
    )
    if writer is not None and not prompt_writer_lazy:
        writer.get()
    seconds = time.perf_counter() - started
    log.info(
        "preset %r loaded on %s/%s in %.1f s; prompts %s",
        preset.name,
        device,
        dtype,
        seconds,
        "read in Russian" if ru_en is None else f"translated by {preset.translator}",
    )
    return LoadedModels(preset, image_generator, zero_shot, device, dtype, seconds, ru_en, super_resolution, writer)


def convert_for_cpu_backend(
    preset_name: str,
    cache_dir: Path,
    device: str | None = None,
    *,
    generator: str | None = None,
    gpu: GpuOptions | None = None,
) -> list[str]:
    """Convert the generator for OpenVINO ahead of a worker's first start, where a worker on this machine with these
    settings (``MODEL_PRESET``, ``MODEL_DEVICE``, ``MODEL_GENERATOR``, ``MODEL_CPU_BACKEND``, ``MODEL_CPU_DTYPE``)
    would run it there: ``python -m workers download`` does it, so that the first start reads the converted models
    instead of converting them. Returns the components converted now (none where they are cached or torch runs)."""
    from models.device import pick_device
    from models.generator import ImageGenerator

    device = pick_device(device)
    preset_name, gpu = gpu_plan(preset_name, gpu, device, generator=generator)
    gpu = _check_cpu_backend(gpu, device, PRESETS[preset_name])  # its backend is the preset's, whatever it loads
    if gpu.cpu_backend != "openvino":
        return []
    preset = resolve_preset(preset_name, cache_dir, device=device, generator=generator)
    from models.openvino_backend import convert_ahead

    dtype = generator_dtype(device, gpu, preset_name)
    decoder = None if generator else preset.decoder
    image_generator = ImageGenerator.from_pretrained(preset.generator, device=device, dtype=dtype, decoder=decoder)
    return convert_ahead(image_generator.pipe, Path(cache_dir) / OPENVINO_DIR, dtype)


def _check_cpu_backend(gpu: GpuOptions, device: str, preset: ModelPreset) -> GpuOptions:
    """``gpu`` with ``MODEL_CPU_BACKEND`` decided (``auto``: :func:`cpu_backend`) and checked before any model loads:
    ``openvino`` on the CPU needs the ``openvino`` package (else a start-up error naming the extra) and leaves
    nothing for ``torch.compile``; on a GPU it does not apply."""
    if gpu.cpu_backend == AUTO:
        gpu = dataclasses.replace(gpu, cpu_backend=cpu_backend(gpu, device, preset))
    if gpu.cpu_backend != "openvino":
        return gpu
    if device.split(":")[0] != "cpu":
        log.info("MODEL_CPU_BACKEND=openvino applies on the CPU only; %s runs torch", device)
        return dataclasses.replace(gpu, cpu_backend="torch")
    from models.openvino_backend import require

    require()
    if gpu.compile:
        log.warning("MODEL_COMPILE ignored: MODEL_CPU_BACKEND=openvino compiles the UNet and decoder itself")
        return dataclasses.replace(gpu, compile=False)
    return gpu


def cpu_backend(gpu: GpuOptions, device: str, preset: ModelPreset) -> str:
    """What ``MODEL_CPU_BACKEND=auto`` runs: on the CPU, the preset's backend (``cpu``: OpenVINO, measured faster
    there) where its package is installed and ``MODEL_COMPILE`` does not ask for torch's compiler; torch elsewhere.
    Says why in the log when the preset's choice is not taken."""
    if device.split(":")[0] != "cpu" or preset.cpu_backend == "torch":
        return "torch"
    if gpu.compile:
        log.info("MODEL_CPU_BACKEND=auto: torch, as MODEL_COMPILE=true asks for torch.compile")
        return "torch"
    if importlib.util.find_spec(preset.cpu_backend) is None:
        log.info(
            "MODEL_CPU_BACKEND=auto: torch; the %s preset paints ~1.4x faster with the optional `%s` package "
            "(pip install 'molbert[%s]')",
            preset.name,
            preset.cpu_backend,
            preset.cpu_backend,
        )
        return "torch"
    log.info("MODEL_CPU_BACKEND=auto: %s for the %s preset", preset.cpu_backend, preset.name)
    return preset.cpu_backend


def _prompt_writer(
    source: str, cache_dir: Path, generator: ImageGenerator, device: str, dtype: torch.dtype, timeout: float
) -> LazyPromptWriter | None:
    """The ✨ writer ``source`` names (``models.prompt_writer.prepare_writer``), in the generator's dtype."""
    from models.prompt_writer import prepare_writer

    return prepare_writer(source, cache_dir=cache_dir, generator=generator, device=device, dtype=dtype, timeout=timeout)
