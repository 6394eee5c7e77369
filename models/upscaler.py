"""Super-resolution (the ⤴ ×2 / ×4 buttons, ``--up``): any model spandrel reads — Sber's Real-ESRGAN (the ruDALL-E
third stage), 4x-UltraSharp, SwinIR, HAT… — run over a picture in overlapping tiles.

A picture is cut into tiles of ``TilePlan.tile`` input pixels; each tile is run with ``pad`` pixels of context
around it (cut off after: the model sees what lies past the tile's edge) and overlaps its neighbours by ``overlap``
pixels, where the two outputs are blended with a linear ramp, so no seam shows. The tile size follows the device's
memory. One model serves both factors: a model of scale ``s`` is run until the picture is at least ``factor`` times
larger (one pass of a ×4 model for ×2 and ×4; two passes of a ×2 model for ×4), then resized to exactly ``factor``
times with Lanczos (×4 then down to ×2 keeps the ×4 model's detail, and one model in memory serves both buttons).
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

log = logging.getLogger(__name__)

HUB_SEPARATOR = ":"  # MODEL_UPSCALER="<hub repo id>:<file in it>"
GB = 2**30
# Activation memory per input pixel of a tile, in live feature maps of 64 channels at the output resolution (an
# RRDBNet's upsampling convolutions hold about three such maps): 192 channels × scale² × the element size.
LIVE_CHANNELS = 192
TILE_SIZES = (1024, 768, 512, 384, 256, 192, 128)  # the largest that fits the budget wins
CPU_TILE_BUDGET = 1 * GB  # on the CPU memory is plenty, but larger tiles buy no speed there
GPU_BUDGET_SHARE = 0.5  # of the card's free memory, for one tile's activations
DEFAULT_PAD, DEFAULT_OVERLAP = 8, 16


@dataclass(frozen=True)
class TilePlan:
    """How a picture is cut: ``tile`` input pixels a side, ``pad`` pixels of context read around each tile (and
    cut off after), ``overlap`` pixels shared with each neighbour and blended with a linear ramp."""

    tile: int
    pad: int = DEFAULT_PAD
    overlap: int = DEFAULT_OVERLAP


def tile_plan(device: str, scale: int, dtype: torch.dtype) -> TilePlan:
    """The tile size a ``device`` affords for a model of ``scale`` in ``dtype``: half the card's free memory for
    one tile's activations on a GPU, ``CPU_TILE_BUDGET`` on the CPU."""
    kind = torch.device(device).type
    if kind == "cuda":
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        budget = free * GPU_BUDGET_SHARE
    else:
        budget = CPU_TILE_BUDGET
    per_pixel = LIVE_CHANNELS * scale * scale * torch.tensor([], dtype=dtype).element_size()
    tile = next((size for size in TILE_SIZES if size * size * per_pixel <= budget), TILE_SIZES[-1])
    return TilePlan(tile)


def _spandrel() -> Any:
    """The spandrel package. It imports torchvision for two architectures we never load (LaMa inpainting,
    RestoreFormer faces); where torchvision cannot load (absent, as the Makefile installs spandrel without it, or
    a CUDA build beside a CPU-only torch), those two names are stood in for while spandrel is imported, by functions
    that refuse, so that every super-resolution model still loads."""
    try:
        import spandrel
    except (ImportError, RuntimeError) as exc:
        try:
            import torchvision  # noqa: F401
        except (ImportError, RuntimeError) as cause:
            return _import_without_torchvision(cause)
        raise exc from None  # spandrel's own problem
    return spandrel


def _import_without_torchvision(cause: BaseException) -> Any:
    """Import spandrel with a stand-in ``torchvision.transforms.functional`` whose functions raise ``cause``; the
    stand-in leaves ``sys.modules`` afterwards, so that transformers and diffusers still see no torchvision."""
    log.info("torchvision cannot be imported (%s); spandrel loads without its LaMa and RestoreFormer", cause)

    def unavailable(*_args: object, **_kwargs: object) -> Any:
        raise RuntimeError("torchvision is not usable in this environment") from cause

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.normalize = unavailable  # type: ignore[attr-defined]
    functional.rotate = unavailable  # type: ignore[attr-defined]
    functional.InterpolationMode = types.SimpleNamespace(BILINEAR="bilinear")  # type: ignore[attr-defined]
    transforms = types.ModuleType("torchvision.transforms")
    transforms.functional = functional  # type: ignore[attr-defined]
    root = types.ModuleType("torchvision")
    root.transforms = transforms  # type: ignore[attr-defined]
    stand_ins = {"torchvision": root, "torchvision.transforms": transforms, functional.__name__: functional}
    for name in [name for name in sys.modules if name.split(".")[0] in ("torchvision", "spandrel")]:
        del sys.modules[name]  # half-imported by the failed attempt
    sys.modules.update(stand_ins)
    try:
        import spandrel
    finally:
        for name in stand_ins:
            sys.modules.pop(name, None)
    return spandrel


def hub_file(source: str) -> tuple[str, str] | None:
    """``("ai-forever/Real-ESRGAN", "RealESRGAN_x4.pth")`` for ``"ai-forever/Real-ESRGAN:RealESRGAN_x4.pth"``;
    ``None`` for a local file (which needs no download)."""
    if Path(source).expanduser().exists() or HUB_SEPARATOR not in source:
        return None
    repo, filename = source.split(HUB_SEPARATOR, 1)
    return repo, filename


def local_file(source: str) -> Path:
    """The weights file ``source`` names: a local path, or a hub file fetched into (or found in) the HF cache."""
    hub = hub_file(source)
    if hub is None:
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"upscaler weights not found: {source} (a file, or <hub repo id>:<file>)")
        return path
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(hub[0], hub[1]))


def upscaler_dtype(device: str, supports_half: bool, supports_bfloat16: bool) -> torch.dtype:
    """bfloat16 on cards that compute in it, else float16 where the model allows; float32 on the CPU."""
    from models.device import pick_dtype

    wanted = pick_dtype(device)
    if wanted == torch.bfloat16 and supports_bfloat16:
        return torch.bfloat16
    if wanted in (torch.bfloat16, torch.float16) and supports_half:
        return torch.float16
    return torch.float32


class Upscaler:
    """A loaded super-resolution model and how to run it over a picture."""

    def __init__(self, descriptor: Any, name: str, device: str, dtype: torch.dtype, plan: TilePlan) -> None:
        self.descriptor = descriptor
        self.name = name
        self.device = device
        self.dtype = dtype
        self.plan = plan

    @classmethod
    def from_file(
        cls, source: str, device: str = "cpu", dtype: torch.dtype | None = None, plan: TilePlan | None = None
    ) -> Upscaler:
        """Load ``source`` (a file, or ``<hub repo id>:<file>``) through spandrel, which tells the architecture
        and scale from the state dict; on ``device`` in its best dtype (``dtype`` overrides)."""
        started = time.perf_counter()
        descriptor = _spandrel().ModelLoader(device=device).load_from_file(local_file(source))
        if descriptor.purpose not in ("SR", "Restoration") or descriptor.scale < 2:
            raise ValueError(f"{source} is a {descriptor.architecture.name} {descriptor.purpose} model, not ×2 or more")
        dtype = dtype or upscaler_dtype(device, descriptor.supports_half, descriptor.supports_bfloat16)
        descriptor = descriptor.to(dtype).eval()
        hub = hub_file(source)
        name = Path(hub[1] if hub else source).stem
        plan = plan or tile_plan(device, descriptor.scale, dtype)
        log.info(
            "upscaler %s (%s ×%d) on %s/%s, tiles of %d px, loaded in %.1f s",
            name,
            descriptor.architecture.name,
            descriptor.scale,
            device,
            str(dtype).removeprefix("torch."),
            plan.tile,
            time.perf_counter() - started,
        )
        return cls(descriptor, name, device, dtype, plan)

    @property
    def scale(self) -> int:
        """The model's own factor (spandrel reads it from the weights)."""
        return int(self.descriptor.scale)

    def passes(self, factor: int) -> int:
        """How many passes make a picture at least ``factor`` times larger."""
        return max(1, math.ceil(math.log(factor) / math.log(self.scale) - 1e-9))

    def upscale(
        self, image: Image.Image, factor: int, on_tile: Callable[[int, int], None] | None = None
    ) -> Image.Image:
        """``image`` exactly ``factor`` times larger. ``on_tile(done, total)`` is called after every tile (it may
        raise to stop: a cancelled job)."""
        sizes, size = [], image.size
        for _ in range(self.passes(factor)):
            sizes.append(size)
            size = (size[0] * self.scale, size[1] * self.scale)
        counts = [len(self._spans(h)) * len(self._spans(w)) for w, h in sizes]
        total, done = sum(counts), 0
        picture = image.convert("RGB")
        for count in counts:
            picture = self._pass(picture, on_tile, done, total)
            done += count
        wanted = (image.width * factor, image.height * factor)
        return picture if picture.size == wanted else picture.resize(wanted, Image.Resampling.LANCZOS)

    def _spans(self, length: int) -> list[tuple[int, int]]:
        """The tiles along a side of ``length`` pixels, as (start, end): as few as ``plan.tile`` allows, of equal
        size and spread evenly, each overlapping the next by ``plan.overlap`` (a last tile flush with the edge
        would otherwise repeat most of its neighbour: 512 px in tiles of 256 took three)."""
        tile, overlap = self.plan.tile, self.plan.overlap
        if length <= tile:
            return [(0, length)]
        count = math.ceil((length - overlap) / max(1, tile - overlap))
        size = math.ceil((length - overlap) / count) + overlap
        starts = [round(index * (length - size) / (count - 1)) for index in range(count)]
        return [(start, start + size) for start in starts]

    def _pass(
        self, image: Image.Image, on_tile: Callable[[int, int], None] | None, done: int, total: int
    ) -> Image.Image:
        """One run of the model over ``image``, tile by tile, blended into one output."""
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)
        height, width, scale = image.height, image.width, self.scale
        out = torch.zeros(3, height * scale, width * scale)
        weight = torch.zeros(1, height * scale, width * scale)
        for top, bottom in self._spans(height):
            for left, right in self._spans(width):
                box = (top, left, bottom, right)
                result, mask = self._run_tile(pixels, box)
                area = (slice(None), slice(box[0] * scale, box[2] * scale), slice(box[1] * scale, box[3] * scale))
                out[area] += result * mask
                weight[area] += mask
                done += 1
                if on_tile is not None:
                    on_tile(done, total)
        array = (out / weight).clamp_(0, 1).mul_(255).round_().byte().permute(1, 2, 0).numpy()
        return Image.fromarray(array, "RGB")

    def _run_tile(self, pixels: torch.Tensor, box: tuple[int, int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's output for the tile ``box`` (top, left, bottom, right) of ``pixels``, run with ``pad`` pixels
        of context that are cut off again, and the tile's blending weights."""
        top, left, bottom, right = box
        height, width = pixels.shape[-2:]
        scale, pad = self.scale, self.plan.pad
        y0, x0 = max(0, top - pad), max(0, left - pad)
        y1, x1 = min(height, bottom + pad), min(width, right + pad)
        result = self.descriptor(pixels[:, :, y0:y1, x0:x1].to(self.device, self.dtype))[0].float().cpu()
        result = result[:, (top - y0) * scale : (bottom - y0) * scale, (left - x0) * scale : (right - x0) * scale]
        rows = self._ramp(bottom - top, top > 0, bottom < height)
        columns = self._ramp(right - left, left > 0, right < width)
        return result, rows[:, None] * columns[None, :]

    def _ramp(self, length: int, rising: bool, falling: bool) -> torch.Tensor:
        """A tile's blending weights along one side, at the output scale: rising from near 0 to 1 across the
        overlap on a side with a neighbour before it, falling on a side with one after it, 1 elsewhere."""
        size = length * self.scale
        ramp = min(self.plan.overlap * self.scale, size)
        weights = torch.ones(size)
        steps = (torch.arange(ramp, dtype=torch.float32) + 0.5) / ramp
        if rising:
            weights[:ramp] = torch.minimum(weights[:ramp], steps)
        if falling:
            weights[size - ramp :] = torch.minimum(weights[size - ramp :], steps.flip(0))
        return weights


class UpscalerSlot:
    """The worker's upscaler, loaded once: at start, or (``lazy``, ``MODEL_UPSCALER_LAZY``) on the first job that
    needs it, so a worker that never upscales never holds it."""

    def __init__(self, source: str, device: str, *, lazy: bool = False) -> None:
        self.source = source
        self.device = device
        self._model: Upscaler | None = None
        self._lock = threading.Lock()
        if not lazy:
            try:
                self.get()
            except Exception as exc:  # weights not downloaded, spandrel missing: the worker still paints
                log.warning("upscaler %s not loaded (%s); ⤴ and --up are refused until it loads", source, exc)

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory now."""
        return self._model is not None

    def get(self) -> Upscaler:
        """The model, loading it the first time (again after a failed load); raises what loading raised."""
        with self._lock:
            if self._model is None:
                self._model = Upscaler.from_file(self.source, self.device)
            return self._model
