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
import time
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
    partial = path.with_name(path.stem + ".partial.xml")
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


def _load(cache: Path, key: str, convert: Any, dtype: torch.dtype) -> tuple[Any, bool]:
    """The compiled model cached as ``key`` (converted by ``convert(path)`` first if absent) and whether it was."""
    path = cache / key / "model.xml"
    converted = not path.is_file()
    if converted:
        convert(path)
    else:
        log.info("OpenVINO: reading the converted %s from %s", key, path.parent)
    return _compiled(path, dtype), converted


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


def _unet(pipe: Any, cache: Path, dtype: torch.dtype) -> bool:
    unet = pipe.unet
    config = unet.config
    width = config.cross_attention_dim
    example = (
        torch.randn(1, config.in_channels, 8, 8),
        torch.tensor([999.0]),
        torch.randn(1, 77, width),
    )
    shapes = [[-1, config.in_channels, -1, -1], [-1], [-1, -1, width]]

    def convert(path: Path) -> None:
        _convert(_UNetGraph(unet), example, shapes, path)

    compiled, converted = _load(cache, cache_key(unet, "unet", dtype), convert, dtype)
    pipe.unet = OpenVinoUNet(compiled, dtype, config)  # the torch UNet's weights are freed with it
    return converted


def _decoder(pipe: Any, cache: Path, dtype: torch.dtype) -> bool:
    vae = pipe.vae
    channels = vae.config.latent_channels

    def convert(path: Path) -> None:
        _convert(
            _DecoderGraph(vae.decoder, vae.dtype), (torch.randn(1, channels, 8, 8),), [[-1, channels, -1, -1]], path
        )

    compiled, converted = _load(cache, cache_key(vae, "taesd-decoder", dtype), convert, dtype)
    vae.decoder = OpenVinoDecoder(compiled, vae.dtype)
    return converted


def use_openvino(pipe: Any, cache_dir: Path, dtype: torch.dtype) -> list[str]:
    """Put OpenVINO models in place of ``pipe``'s UNet and, for an ``AutoencoderTiny`` decoder, of its decoder;
    return the components that run on OpenVINO now (none for a pipeline this module does not know: it stays on
    torch, with a warning). ``cache_dir`` is ``<MODEL_CACHE_DIR>/openvino``."""
    require()
    name = type(pipe).__name__
    if name not in UNET_PIPELINES or type(pipe.unet).__name__ != "UNet2DConditionModel":
        log.warning("MODEL_CPU_BACKEND=openvino: %s is not a Stable Diffusion pipeline; it stays on torch", name)
        return []
    started = time.perf_counter()
    converted = {"unet": _unet(pipe, Path(cache_dir), dtype)}
    if type(pipe.vae).__name__ == "AutoencoderTiny":
        converted["decoder"] = _decoder(pipe, Path(cache_dir), dtype)
    log.info(
        "MODEL_CPU_BACKEND=openvino: %s on OpenVINO (%s, %s) in %.1f s; text encoder and image encoder on torch",
        ", ".join(converted),
        precision(dtype),
        "converted" if any(converted.values()) else "read from the cache",
        time.perf_counter() - started,
    )
    return list(converted)
