"""GPU settings a worker applies to a loaded diffusers pipeline: placement or CPU offload, channels-last memory
format, torch.compile, VAE tiling.

Attention needs nothing here: diffusers and transformers use PyTorch's scaled-dot-product attention (SDPA, with
its flash and memory-efficient kernels) by default, and nothing in Molbert replaces those processors.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# "auto": models.presets.gpu_plan turns model offload on where the preset does not fit the card without it.
OFFLOAD_MODES = ("none", "model", "sequential", "auto")
TILING_MODES = ("auto", "on", "off")
CHANNELS_LAST_MODES = ("auto", "on", "off")
# MODEL_CPU_DTYPE: the generator's weights and compute on the CPU; "auto": models.presets.generator_dtype decides
CPU_DTYPES = ("auto", "float32", "bfloat16")
# MODEL_CPU_BACKEND: what runs the CPU generator's UNet and tiny decoder (models.openvino_backend); "auto": the
# preset's choice where its package is installed (models.presets.cpu_backend)
CPU_BACKENDS = ("auto", "torch", "openvino")
# "auto" tiles the VAE above this many pixels (about 1.5 MP: beyond every model's native size).
AUTO_TILING_PIXELS = 1_500_000


@dataclass(frozen=True)
class GpuOptions:
    """How a generator runs on its device (``MODEL_COMPILE``, ``MODEL_CPU_OFFLOAD``, ``MODEL_VAE_TILING``,
    ``MODEL_CHANNELS_LAST``, ``MODEL_CPU_DTYPE``, ``MODEL_CPU_BACKEND``)."""

    compile: bool = False
    cpu_offload: str = "none"  # none | model | sequential | auto (decided by models.presets.gpu_plan)
    vae_tiling: str = "auto"  # auto | on | off
    channels_last: str = "auto"  # auto | on | off
    cpu_dtype: str = "float32"  # auto | float32 | bfloat16: the generator's dtype when it runs on the CPU
    cpu_backend: str = "torch"  # auto | torch | openvino: what runs its UNet and tiny decoder there

    def __post_init__(self) -> None:
        if self.cpu_offload not in OFFLOAD_MODES:
            raise ValueError(f"cpu_offload must be one of {OFFLOAD_MODES}, got {self.cpu_offload!r}")
        if self.vae_tiling not in TILING_MODES:
            raise ValueError(f"vae_tiling must be one of {TILING_MODES}, got {self.vae_tiling!r}")
        if self.channels_last not in CHANNELS_LAST_MODES:
            raise ValueError(f"channels_last must be one of {CHANNELS_LAST_MODES}, got {self.channels_last!r}")
        if self.cpu_dtype not in CPU_DTYPES:
            raise ValueError(f"cpu_dtype must be one of {CPU_DTYPES}, got {self.cpu_dtype!r}")
        if self.cpu_backend not in CPU_BACKENDS:
            raise ValueError(f"cpu_backend must be one of {CPU_BACKENDS}, got {self.cpu_backend!r}")


def place(pipe: Any, device: str, offload: str) -> None:
    """Move ``pipe`` to ``device``, or let accelerate keep it in CPU memory and move parts in as they run.

    ``model`` offload moves whole models (little slower); ``sequential`` moves layer by layer (least memory,
    much slower). On the CPU there is nothing to offload to, so the option is ignored there. ``auto`` reaching here
    undecided (a generator loaded without ``models.presets``, which knows no memory figures) means ``none``.
    """
    if offload == "auto":
        offload = "none"
    if offload != "none" and device.split(":")[0] == "cpu":
        log.warning("CPU offload %r ignored: the pipeline already runs on the CPU", offload)
        offload = "none"
    if offload == "none":
        pipe.to(device)
    elif offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)


def _component(pipe: Any, *names: str) -> Any:
    for name in names:
        module = getattr(pipe, name, None)
        if module is not None:
            return module
    return None


def denoiser(pipe: Any) -> Any:
    """The network a pipeline runs at every step: its ``transformer`` or its ``unet`` (None if neither)."""
    return _component(pipe, "transformer", "unet")


def wants_channels_last(mode: str, device: str, pipe: Any) -> bool:
    """Whether to convert ``pipe`` to channels-last under ``mode`` (``MODEL_CHANNELS_LAST``) on ``device``.

    ``auto`` is on for CUDA with a UNet denoiser (convolutions, where cuDNN's channels-last kernels are faster) and
    off on the CPU and MPS, and for transformer denoisers (Kandinsky 5, FLUX), where it does not apply.
    """
    if mode != "auto":
        return mode == "on"
    unet_denoiser = _component(pipe, "transformer") is None and _component(pipe, "unet") is not None
    return device.split(":")[0] == "cuda" and unet_denoiser


def use_channels_last(pipe: Any) -> list[str]:
    """Put the 4-D weights of the UNet and the image decoder (``vae``, or ``movq`` in Kandinsky 2.x) in
    ``torch.channels_last`` memory format; return the names of the components converted.

    A component with 3-D convolutions (a video VAE) is left alone: channels-last is for 2-D convolutions only.
    """
    import torch

    converted = []
    for name in ("unet", "vae", "movq"):
        module = getattr(pipe, name, None)
        if module is None:
            continue
        if any(param.dim() == 5 for param in module.parameters()):
            log.warning("MODEL_CHANNELS_LAST: the %s of %s has 3-D convolutions; left as is", name, type(pipe).__name__)
            continue
        module.to(memory_format=torch.channels_last)
        converted.append(name)
    log.info("channels-last memory format for the %s of %s", ", ".join(converted) or "nothing", type(pipe).__name__)
    return converted


def compile_denoiser(pipe: Any) -> None:
    """``torch.compile`` the denoiser in place (the first images after start are slow, later ones faster)."""
    module = denoiser(pipe)
    if module is None:
        log.warning("MODEL_COMPILE: %s has no transformer or unet to compile", type(pipe).__name__)
        return
    module.compile()
    log.info("compiled the %s of %s", type(module).__name__, type(pipe).__name__)


def _compiler(variable: str, names: tuple[str, ...]) -> str | None:
    """The compiler the build would use: ``$variable`` if set (found on PATH or as a path), else the first of
    ``names`` on PATH; None if there is none."""
    chosen = os.environ.get(variable, "").split()
    if chosen:
        return shutil.which(chosen[0])
    return next(filter(None, map(shutil.which, names)), None)


def python_header() -> Path:
    """Where ``Python.h`` must be for an extension built against this interpreter (Triton's own lookup)."""
    scheme = sysconfig.get_default_scheme()
    if scheme == "posix_local":  # Debian's; Triton reads posix_prefix instead
        scheme = "posix_prefix"
    return Path(sysconfig.get_paths(scheme=scheme)["include"]) / "Python.h"


def compile_toolchain_problem(device: str) -> str | None:
    """Why ``torch.compile`` cannot build its kernels for ``device`` on this machine, or None if it can.

    Inductor writes kernels as source and compiles them while the first picture runs: on CUDA, Triton builds
    its launcher with a C compiler (``CC``, else ``gcc``, else ``clang``) against ``Python.h``; on the CPU,
    inductor compiles C++ (``CXX``, else ``g++``, ``clang++`` on macOS) against ``Python.h``. Without them
    ``MODEL_COMPILE`` would fail the warm-up and then every picture, so the worker refuses it at start (MPS
    builds Metal shaders through torch and is not checked).
    """
    kind = device.split(":")[0]
    if kind == "mps":
        return None
    names: tuple[str, ...]
    if kind == "cuda":
        variable, names, what = "CC", ("gcc", "clang"), "a C compiler"
    else:
        variable, names, what = "CXX", ("clang++",) if sys.platform == "darwin" else ("g++",), "a C++ compiler"
    missing = []
    if _compiler(variable, names) is None:
        missing.append(f"{what} ({variable} unset or not found, no {' or '.join(names)} on PATH)")
    header = python_header()
    if not header.is_file():
        missing.append(f"Python's headers (no {header})")
    if not missing:
        return None
    return f"torch.compile on {kind} builds its kernels at run time and needs {' and '.join(missing)}"


def tiling_supported(pipe: Any) -> bool:
    """Whether the pipeline's image decoder (``vae``, or ``movq`` in Kandinsky 2.x) can decode in tiles."""
    return hasattr(_component(pipe, "vae", "movq"), "use_tiling")


def wants_tiling(mode: str, width: int, height: int) -> bool:
    """Whether to decode a ``width`` x ``height`` image in tiles under tiling ``mode``."""
    return mode == "on" or (mode == "auto" and width * height > AUTO_TILING_PIXELS)


def set_vae_tiling(pipe: Any, enabled: bool) -> None:
    """Turn tiled VAE decoding on or off; a no-op where the decoder cannot tile (see :func:`tiling_supported`)."""
    if not tiling_supported(pipe):
        return
    decoder = _component(pipe, "vae", "movq")
    if enabled:
        decoder.enable_tiling()
    else:
        decoder.disable_tiling()
