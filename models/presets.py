"""Model presets (which generator and classifier to run) and loading them once per worker.

Importing this module is cheap (no torch): frontends may validate preset names with it.
"""

from __future__ import annotations

import dataclasses
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
    from models.translation import Translator

log = logging.getLogger(__name__)

AUTO = "auto"
TEXT_EMBEDDINGS_DIR = "text-embeddings"  # under the model cache dir: label-set embeddings (models.embedding_store)
RUCLIP_CONVERSIONS_DIR = "ruclip"  # under the model cache dir: ruCLIP checkpoints converted to CLIPModel
TINY = "tiny"
SMALL_MODELS_DTYPE = "float32"  # the classifier's and the translator's weights (models.device.small_dtype)
# The seeds' classifier: a ruCLIP checkpoint, converted to a transformers CLIPModel by models.ruclip
# (the other ruCLIP sizes, e.g. ai-forever/ruclip-vit-large-patch14-224, load the same way).
RUCLIP = "ai-forever/ruclip-vit-base-patch32-384"
# An alternative classifier: any transformers zero-shot model id works, e.g. multilingual SigLIP.
SIGLIP_MULTILINGUAL = "google/siglip-base-patch16-256-multilingual"
# Translates prompts for generators that read only English (MarianMT, transformers).
RU_EN_TRANSLATOR = "Helsinki-NLP/opus-mt-ru-en"


@dataclass(frozen=True)
class ModelPreset:
    """A named set of models: a diffusers generator, a zero-shot classifier and, if needed, a translator."""

    name: str
    generator: str  # hub id or local dir
    classifier: str  # hub id or local dir
    generator_reads_russian: bool  # False: prompts are translated ru->en first, by `translator`
    description: str
    translator: str = RU_EN_TRANSLATOR  # hub id or local dir of a MarianMT ru->en model


PRESETS: dict[str, ModelPreset] = {
    TINY: ModelPreset(
        name=TINY,
        generator="(built by models.tiny.ensure_tiny_models)",
        classifier="(built by models.tiny.ensure_tiny_models)",
        generator_reads_russian=True,  # byte-level tokenizer; nothing to download for translation
        description="tiny random models built locally: offline, CPU, for tests and development (noise images)",
    ),
    "quality": ModelPreset(
        name="quality",
        generator="kandinskylab/Kandinsky-5.0-T2I-Lite-sft-Diffusers",
        classifier=RUCLIP,
        generator_reads_russian=True,
        description="Kandinsky 5.0 Image Lite: best quality, reads Russian; needs a large GPU (~40 GB)",
    ),
    "compact": ModelPreset(
        name="compact",
        generator="kandinsky-community/kandinsky-2-2-decoder",
        classifier=RUCLIP,
        generator_reads_russian=False,
        description="Kandinsky 2.2 (prior + decoder): fits 12-24 GB GPUs; Russian prompts translated to English",
    ),
    "fast": ModelPreset(
        name="fast",
        generator="stabilityai/sdxl-turbo",
        classifier=RUCLIP,
        generator_reads_russian=False,
        description="SDXL-Turbo: 4 steps at 512x512, fits 8 GB GPUs; Russian prompts translated to English",
    ),
}

# Smallest accelerator memory (GB) for each preset that "auto" may pick, best first.
AUTO_MIN_MEMORY_GB: tuple[tuple[str, float], ...] = (("quality", 40.0), ("compact", 12.0), ("fast", 8.0))


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

    def generator_words(self, prompt: str, negative: str | None) -> tuple[str, str | None]:
        """``prompt`` and ``negative`` as the generator should get them: in English (one batch) if it needs it."""
        if self.translator is None:
            return prompt, negative
        translated = self.translator.translate([prompt, negative] if negative else [prompt])
        return translated[0], translated[1] if negative else negative


def _accelerator_memory_gb(device: str) -> float | None:
    """Total memory of ``device`` in GB, or None for the CPU."""
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.get_device_properties(torch.device(device)).total_memory / 1e9
    if kind == "mps":
        return torch.mps.recommended_max_memory() / 1e9
    return None


def _pick_auto(device: str | None) -> str:
    """Choose a preset for this machine by accelerator memory, logging the choice and why."""
    from models.device import pick_device

    device = pick_device(device)
    memory = _accelerator_memory_gb(device)
    if memory is None:
        log.warning(
            "MODEL_PRESET=auto: no GPU found, using %r (tiny random models, noise images); "
            "real presets need a CUDA or MPS device",
            TINY,
        )
        return TINY
    for name, needed in AUTO_MIN_MEMORY_GB:
        if memory >= needed:
            log.info("MODEL_PRESET=auto: %s has %.1f GB (>= %.0f GB), using %r", device, memory, needed, name)
            return name
    log.warning(
        "MODEL_PRESET=auto: %s has only %.1f GB, too little for any real preset; using %r", device, memory, TINY
    )
    return TINY


def resolve_preset(
    name: str,
    cache_dir: Path,
    *,
    device: str | None = None,
    generator: str | None = None,
    translator: str | None = None,
    classifier: str | None = None,
) -> ModelPreset:
    """Return the preset called ``name`` (``"auto"`` picks one for ``device``).

    ``"tiny"`` builds the tiny models into ``cache_dir`` if missing and points the preset at them.
    ``generator`` (``MODEL_GENERATOR``) replaces the preset's generator; whether it reads Russian is then
    what ``models.generator.known_defaults`` knows of it (unknown models get their prompts translated).
    ``translator`` (``MODEL_TRANSLATOR``) replaces the ru→en model; ``classifier`` (``MODEL_CLASSIFIER``) the
    zero-shot classifier (a ruCLIP checkpoint or any transformers CLIP/SigLIP, hub id or local dir).
    An unknown name raises ``ValueError`` listing the valid ones.
    """
    key = name.strip().lower()
    if key == AUTO:
        key = _pick_auto(device)
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
    return preset


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
) -> LoadedModels:
    """Resolve ``preset_name`` and load its models onto ``device`` (None: best), once per worker.

    ``generator``, ``translator`` and ``classifier`` override the preset's (see :func:`resolve_preset`); ``gpu``
    says how the generator runs (offload, compile, VAE tiling). The translator is loaded only if the generator
    needs it. The generator runs in the device's dtype (bf16/fp16 on a GPU); the classifier and the translator in
    ``small_models_dtype`` (``MODEL_SMALL_MODELS_DTYPE``, float32 by default, see `models.device.small_dtype`).
    The default label set's text embeddings are made ready here (warm-up: the first user does not pay for them),
    read from ``cache_dir/text-embeddings`` when a previous start stored them for the same weights.
    """
    from models.classifier import ZeroShotClassifier
    from models.device import pick_device, pick_dtype, small_dtype
    from models.generator import ImageGenerator
    from models.labels import default_labels

    started = time.perf_counter()
    device = pick_device(device)
    dtype, small = pick_dtype(device), small_dtype(small_models_dtype, device)
    preset = resolve_preset(
        preset_name, cache_dir, device=device, generator=generator, translator=translator, classifier=classifier
    )
    image_generator = ImageGenerator.from_pretrained(preset.generator, device=device, dtype=dtype, gpu=gpu)
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
    seconds = time.perf_counter() - started
    log.info(
        "preset %r loaded on %s/%s in %.1f s; prompts %s",
        preset.name,
        device,
        dtype,
        seconds,
        "read in Russian" if ru_en is None else f"translated by {preset.translator}",
    )
    return LoadedModels(preset, image_generator, zero_shot, device, dtype, seconds, ru_en)
