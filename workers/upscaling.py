"""The upscale stage of a generation job: ⤴ ×2 / ×4 under a picture (that stored picture alone) and ``--up`` (the
final pictures, after ``--best``), with progress per tile, cancelling between tiles and a size limit."""

from __future__ import annotations

import time
from collections.abc import Callable

from PIL import Image
from rq.job import Job

from core.protocol import GenerateJob
from models.upscaler import Upscaler
from workers import runtime
from workers.progress import ProgressReporter

# The largest picture an upscale makes (pixels): a 1024² picture ×4 is 16.8 MP; a ×4 of anything much larger would
# hold gigabytes in the worker and in Redis, and no chat shows it.
MAX_UPSCALED_PIXELS = 40_000_000


class UpscaleRefused(Exception):
    """An upscale that cannot be done; ``error_key`` is the texts.py key that says why."""

    def __init__(self, reason: str, error_key: str) -> None:
        super().__init__(reason)
        self.error_key = error_key


def upscaler_name() -> str:
    """The loaded upscaler's name (``RealESRGAN_x4``), for captions."""
    return _upscaler().name


def enlarge(job: Job, request: GenerateJob, images: list[Image.Image]) -> list[Image.Image]:
    """``images``, each ``request.upscale`` times larger; the progress message says so (and, on a CPU worker, that
    it takes a while), and ✖ stops it between tiles (``JobCancelled`` from the reporter)."""
    factor = request.upscale or 1
    upscaler = _upscaler()
    for image in images:
        if image.width * image.height * factor * factor > MAX_UPSCALED_PIXELS:
            raise UpscaleRefused(f"{image.size} ×{factor} is over {MAX_UPSCALED_PIXELS} pixels", "upscale_too_big")
    fields = {"upscale": factor, "slow_device": upscaler.device.split(":")[0] == "cpu"}
    report = ProgressReporter(job.connection, job.id, request.chat, fields=fields)
    return [upscaler.upscale(image, factor, _share(report, index, len(images))) for index, image in enumerate(images)]


def _share(report: ProgressReporter, index: int, count: int) -> Callable[[int, int], None]:
    """The per-tile callback of the ``index``-th of ``count`` pictures, as its share of the whole job."""
    return lambda done, total: report(index * total + done, count * total)


def enlarge_stored(job: Job, request: GenerateJob, source: Image.Image) -> tuple[list[Image.Image], list[int], float]:
    """A ⤴ press: the one stored picture ``source``, enlarged; no output check (it was checked when painted, and a
    hidden one is stored blurred)."""
    started = time.perf_counter()
    images = enlarge(job, request, [source])
    return images, [], time.perf_counter() - started


def _upscaler() -> Upscaler:
    """The worker's upscaler, loaded if it was not yet (``MODEL_UPSCALER_LAZY``)."""
    slot = runtime.models().upscaler
    if slot is None:
        raise UpscaleRefused("this worker has no upscaler (MODEL_UPSCALER=off)", "upscale_unavailable")
    try:
        return slot.get()
    except Exception as exc:  # weights missing, spandrel missing: the operator's log says which
        raise UpscaleRefused(f"the upscaler did not load: {exc}", "upscale_unavailable") from exc
