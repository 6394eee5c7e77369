"""``MODEL_CPU_BACKEND=openvino``: the CPU generator's UNet and tiny decoder run as compiled OpenVINO models.

OpenVINO's CPU plugin fuses and repacks a whole graph for the CPU it runs on, where torch's eager mode runs one
operator at a time (FastSD CPU paints with it). The torch modules are converted once (``openvino.convert_model``,
traced with dynamic batch, height and width, so one converted model serves every picture size and count), saved as
OpenVINO IR under ``<MODEL_CACHE_DIR>/openvino/<key>/`` and read back on later starts: ``key`` hashes the weights
(their path and their files' sizes and times), the torch dtype they were converted from, the component and the
openvino, torch and diffusers versions. The modules put in their place answer the diffusers pipeline as the torch
ones do (``pipe.unet(...)`` returns what ``UNet2DConditionModel`` returns; ``vae.decoder(x)`` a tensor), so
text-to-image and the image-to-image and inpainting pipelines ``from_pipe`` builds from it run unchanged. The text
encoder and TAESD's encoder (image-to-image, inpainting) stay on torch.

``openvino`` is an optional extra (``pip install 'molbert[openvino]'``): without it the setting is refused at start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

BACKENDS = ("torch", "openvino")  # MODEL_CPU_BACKEND
OPENVINO = "openvino"
EXTRA = "pip install 'molbert[openvino]'"
CACHE_DIR = "openvino"  # under MODEL_CACHE_DIR
FORMAT = 1  # bump when what is converted changes: older cache entries are then not read
# Pipelines whose UNet call this module answers (sample, timestep, encoder_hidden_states; no extra conditioning).
UNET_PIPELINES = frozenset(
    {"StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline"}
)


class OpenVinoMissing(RuntimeError):
    """``MODEL_CPU_BACKEND=openvino`` without the ``openvino`` package installed."""


def require() -> Any:
    """The ``openvino`` module, or :class:`OpenVinoMissing` naming the extra to install (a start-up error)."""
    try:
        import openvino
    except ImportError as exc:
        raise OpenVinoMissing(
            f"MODEL_CPU_BACKEND=openvino needs the optional `openvino` package: {EXTRA} "
            "(or set MODEL_CPU_BACKEND=torch)"
        ) from exc
    return openvino


def precision(dtype: torch.dtype) -> str:
    """OpenVINO's ``INFERENCE_PRECISION_HINT`` for a generator loaded in ``dtype`` (MODEL_CPU_DTYPE)."""
    return "bf16" if dtype == torch.bfloat16 else "f32"


def _weights_identity(module: Any) -> dict[str, Any]:
    """What names ``module``'s weights: the path it was loaded from and its weight files' sizes and times."""
    source = str(getattr(module.config, "_name_or_path", ""))
    files = []
    if source and Path(source).is_dir():
        for path in sorted(Path(source).iterdir()):
            if path.suffix in {".safetensors", ".bin"}:
                stat = path.stat()
                files.append([path.name, stat.st_size, stat.st_mtime_ns])
    return {"source": source, "files": files}


def cache_key(module: Any, component: str, dtype: torch.dtype) -> str:
    """The cache folder name of ``component`` converted from ``module`` in ``dtype``: a hash of its weights'
    identity, dtype, the dynamic shapes it is traced with and the versions that shape the converted graph."""
    import diffusers

    openvino = require()
    identity = {
        "format": FORMAT,
        "component": component,
        "weights": _weights_identity(module),
        "dtype": str(dtype),
        "shape": "dynamic batch, height, width",
        "openvino": openvino.__version__,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return f"{component}-{digest}"


class _UNetGraph(torch.nn.Module):
    """What is traced: the UNet's three inputs in float32 (numpy has no bfloat16), its output in float32."""

    def __init__(self, unet: Any):
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor) -> Any:
        dtype = self.unet.dtype
        out = self.unet(sample.to(dtype), timestep, encoder_hidden_states=encoder_hidden_states.to(dtype))
        return out[0].float()


class _DecoderGraph(torch.nn.Module):
    def __init__(self, decoder: Any, dtype: torch.dtype):
        super().__init__()
        self.decoder, self.dtype = decoder, dtype

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents.to(self.dtype)).float()


def _convert(graph: torch.nn.Module, example: tuple[torch.Tensor, ...], shapes: list[list[int]], path: Path) -> None:
    """Trace ``graph`` with ``example`` and save it as IR at ``path`` (``-1`` in ``shapes``: a dynamic dimension)."""
    openvino = require()
    started = time.perf_counter()
    with torch.no_grad():
        model = openvino.convert_model(
            graph.eval(), example_input=example, input=[openvino.PartialShape(shape) for shape in shapes]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.xml")  # two workers starting together: no clash
    openvino.save_model(model, partial, compress_to_fp16=False)  # the weights as loaded: no float16 rounding
    partial.with_suffix(".bin").replace(path.with_suffix(".bin"))
    partial.replace(path)  # the .xml last: its presence means the pair is whole
    log.info("OpenVINO: converted %s in %.1f s into %s", type(graph).__name__, time.perf_counter() - started, path)


def _compiled(path: Path, dtype: torch.dtype) -> Any:
    """The IR at ``path`` compiled for this CPU in ``dtype``'s precision, with torch's thread count."""
    openvino = require()
    config = {
        "INFERENCE_PRECISION_HINT": precision(dtype),
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),  # MODEL_THREADS governs both runtimes
    }
    return openvino.Core().compile_model(openvino.Core().read_model(path), "CPU", config)


def _compiled_and_packed(path: Path, dtype: torch.dtype, example: tuple[torch.Tensor, ...]) -> Any:
    """The IR at ``path`` compiled, its weights packed and its mapped pages released.

    OpenVINO maps the IR's weights from disk, and its CPU plugin copies them into its own packed layout on the first
    inference, never to read most of the mapped pages again; left resident they count twice in the worker's RSS
    (1.7 GB for SD-Turbo's UNet in bfloat16). So one inference on ``example`` (the smallest input) runs here, and
    the mapped pages are then dropped: any page read later comes back from the file.
    """
    compiled = _compiled(path, dtype)
    compiled.create_infer_request().infer([tensor.float().numpy() for tensor in example])
    released = release_mapped_pages(path.with_suffix(".bin"))
    log.info("OpenVINO: %s packed for this CPU; %.2f GB of mapped weights released", path.parent.name, released / 2**30)
    return compiled


def release_mapped_pages(path: Path) -> int:
    """Drop this process's resident pages of every mapping of the file at ``path`` (``madvise(MADV_DONTNEED)``, Linux
    only) and return the bytes those mappings span. The file stays mapped: a page read again is read from it."""
    if sys.platform != "linux":
        return 0
    import ctypes

    madvise = ctypes.CDLL(None, use_errno=True).madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    target, spanned = str(path.resolve()), 0
    for start, end in _mappings_of(target):
        if madvise(start, end - start, mmap.MADV_DONTNEED) == 0:
            spanned += end - start
    return spanned


def _mappings_of(target: str) -> list[tuple[int, int]]:
    """The address ranges of this process's read-only mappings of the file ``target`` (from ``/proc/self/maps``): a
    writable private mapping may hold changes that dropping its pages would lose, so it is left alone."""
    ranges = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == target and fields[1][1] == "-":
            start, end = (int(address, 16) for address in fields[0].split("-"))
            ranges.append((start, end))
    return ranges


class _OpenVinoModule(torch.nn.Module):
    """A compiled OpenVINO model where the pipeline expects a torch module: no parameters, reports the torch
    ``dtype`` the rest of the pipeline runs in, and the CPU as its device."""

    def __init__(self, compiled: Any, dtype: torch.dtype, config: Any = None):
        super().__init__()
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self._dtype = dtype
        if config is not None:
            self.config = config

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def infer(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Run the compiled model on ``inputs`` (as float32) and return its first output as a torch tensor."""
        self.request.infer([tensor.detach().float().contiguous().numpy() for tensor in inputs])
        return torch.from_numpy(self.request.get_output_tensor(0).data.copy())


class OpenVinoUNet(_OpenVinoModule):
    """``UNet2DConditionModel``'s place in a Stable Diffusion pipeline: same call, same return types."""

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
        *args: Any,
        return_dict: bool = True,
        **kwargs: Any,
    ) -> Any:
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        extra = [name for name, value in kwargs.items() if value is not None] + (["positional"] if args else [])
        if extra:  # LoRA scales, IP-Adapter or timestep conditioning: not in the converted graph
            raise NotImplementedError(f"the OpenVINO UNet takes no {', '.join(extra)} (MODEL_CPU_BACKEND=torch does)")
        steps = torch.as_tensor(timestep, dtype=torch.float32).reshape(-1)
        out = self.infer(sample, steps, encoder_hidden_states).to(sample.dtype)
        return UNet2DConditionOutput(sample=out) if return_dict else (out,)


class OpenVinoDecoder(_OpenVinoModule):
    """``AutoencoderTiny.decoder``'s place: latents in, image tensor out (tiling calls it per tile)."""

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.infer(latents).to(latents.dtype)


@dataclass
class _Component:
    """One part of a pipeline that runs on OpenVINO: its torch module, how it is traced and where it goes."""

    name: str  # as logged and returned: unet, decoder
    module: Any  # the torch module converted (its weights are freed once OpenVINO has its own)
    key: str  # its cache folder (cache_key)
    graph: torch.nn.Module  # what is traced
    example: tuple[torch.Tensor, ...]  # the smallest input: traced with, and the first inference that packs weights
    shapes: list[list[int]]  # the inputs' shapes, -1 dynamic
    install: Any  # puts the compiled model in the pipeline in the module's place

    def ir(self, cache: Path) -> Path:
        return cache / self.key / "model.xml"


def _unet(pipe: Any, dtype: torch.dtype) -> _Component:
    unet = pipe.unet
    config = unet.config
    width = config.cross_attention_dim

    def install(compiled: Any) -> None:
        pipe.unet = OpenVinoUNet(compiled, dtype, config)

    return _Component(
        name="unet",
        module=unet,
        key=cache_key(unet, "unet", dtype),
        graph=_UNetGraph(unet),
        example=(torch.randn(1, config.in_channels, 8, 8), torch.tensor([999.0]), torch.randn(1, 77, width)),
        shapes=[[-1, config.in_channels, -1, -1], [-1], [-1, -1, width]],
        install=install,
    )


def _decoder(pipe: Any, dtype: torch.dtype) -> _Component:
    vae = pipe.vae
    channels = vae.config.latent_channels

    def install(compiled: Any) -> None:
        vae.decoder = OpenVinoDecoder(compiled, vae.dtype)

    return _Component(
        name="decoder",
        module=vae.decoder,
        key=cache_key(vae, "taesd-decoder", dtype),
        graph=_DecoderGraph(vae.decoder, vae.dtype),
        example=(torch.randn(1, channels, 8, 8),),
        shapes=[[-1, channels, -1, -1]],
        install=install,
    )


def _components(pipe: Any, dtype: torch.dtype) -> list[_Component]:
    """What of ``pipe`` runs on OpenVINO: the UNet, and the decoder of an ``AutoencoderTiny``; none (with a warning)
    for a pipeline this module does not know."""
    name = type(pipe).__name__
    if name not in UNET_PIPELINES or type(pipe.unet).__name__ != "UNet2DConditionModel":
        log.warning("MODEL_CPU_BACKEND=openvino: %s is not a Stable Diffusion pipeline; it stays on torch", name)
        return []
    components = [_unet(pipe, dtype)]
    if type(pipe.vae).__name__ == "AutoencoderTiny":
        components.append(_decoder(pipe, dtype))
    return components


def _converted(component: _Component, cache: Path) -> bool:
    """Convert ``component`` into ``cache`` unless it is there; whether it was converted now."""
    path = component.ir(cache)
    if path.is_file():
        log.info("OpenVINO: reading the converted %s from %s", component.key, path.parent)
        return False
    log.info("OpenVINO: converting the %s once for this CPU (tens of seconds on 2 cores) into %s", component.name, path)
    _convert(component.graph, component.example, component.shapes, path)
    return True


def convert_ahead(pipe: Any, cache_dir: Path, dtype: torch.dtype) -> list[str]:
    """Convert ``pipe``'s UNet and decoder into ``cache_dir`` (``<MODEL_CACHE_DIR>/openvino``) where they are not
    yet, compiling nothing: ``python -m workers download`` does it, so that a worker's first start only reads them.
    Returns the components converted now."""
    require()
    return [component.name for component in _components(pipe, dtype) if _converted(component, Path(cache_dir))]


def use_openvino(pipe: Any, cache_dir: Path, dtype: torch.dtype) -> list[str]:
    """Put OpenVINO models in place of ``pipe``'s UNet and, for an ``AutoencoderTiny`` decoder, of its decoder;
    return the components that run on OpenVINO now (none for a pipeline this module does not know: it stays on
    torch, with a warning). ``cache_dir`` is ``<MODEL_CACHE_DIR>/openvino``."""
    require()
    started, cache = time.perf_counter(), Path(cache_dir)
    converted = {}
    for component in _components(pipe, dtype):
        converted[component.name] = _converted(component, cache)
        component.module.to("meta")  # its weights, converted, are freed before OpenVINO packs its own copy
        component.install(_compiled_and_packed(component.ir(cache), dtype, component.example))
    if not converted:
        return []
    log.info(
        "MODEL_CPU_BACKEND=openvino: %s on OpenVINO (%s, %s) in %.1f s; text encoder and image encoder on torch",
        ", ".join(converted),
        precision(dtype),
        "converted" if any(converted.values()) else "read from the cache",
        time.perf_counter() - started,
    )
    return list(converted)
