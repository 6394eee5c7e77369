"""Warm-up at worker start (``MODEL_WARMUP``): one throwaway picture before the first job.

The first run of a pipeline pays once for what later runs reuse: cuDNN picking its kernels, ``torch.compile``
compiling the denoiser (``MODEL_COMPILE``), the CUDA allocator growing its pool, lazy imports and the translator's
first pass. A worker that paints one small picture before it reports ready pays all that itself, so the first user
does not. The picture is discarded: nothing is stored in Redis or sent to any chat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from models.presets import LoadedModels

log = logging.getLogger(__name__)

# Russian, like a user's: it passes through the translator when the generator reads no Russian.
WARMUP_PROMPT = "рыжий кот на подоконнике, акварель"
WARMUP_STEPS = 2
WARMUP_SEED = 0


def warm_up(models: LoadedModels, check: Callable[[Sequence[Image.Image]], Any] | None = None) -> float:
    """Paint one picture at the generator's default size in :data:`WARMUP_STEPS` steps (fewer for a model whose own
    default is fewer: SD-Turbo paints in one, and on a CPU each step is seconds) with a fixed seed, through
    the translator if the preset has one, then pass it to ``check`` (the output check, which runs the classifier's
    image encoder); return the seconds it took. The picture is thrown away.

    With ``MODEL_COMPILE`` the compiled graph is for the default size; other sizes compile on first use.
    """
    started = time.perf_counter()
    prompt, _ = models.generator_words(WARMUP_PROMPT, None)
    steps = min(WARMUP_STEPS, models.generator.default_steps)
    images = models.generator.generate(prompt, seed=WARMUP_SEED, steps=steps)
    if check is not None:
        check(images)
    # zoom out / pan: whether this family can is found (and its inpainting pipeline made) now, not in the first job
    models.generator.makes_outpaintings  # noqa: B018
    seconds = time.perf_counter() - started
    width, height = models.generator.default_size
    log.info(
        "warm-up: one %dx%d picture in %d step%s%s took %.2f s",
        width,
        height,
        steps,
        "" if steps == 1 else "s",
        "" if models.translator is None else ", prompt translated",
        seconds,
    )
    return seconds
