"""A worker's settings (``MODEL_*``, ``WORKER_*``) and :class:`WorkerConfig`, every group ``python -m workers``
reads, built once in its ``__main__``. The groups the frontend reads too live in ``core/config.py``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from core.config import LogSettings, ProcessConfig, RedisSettings, SafetySettings, config_rule, settings_config

if TYPE_CHECKING:
    from models.acceleration import GpuOptions


class ModelSettings(BaseSettings):
    """``MODEL_*``: which models a worker loads and where it keeps files it builds."""

    model_config = settings_config("MODEL_")

    preset: str = Field("auto", description="auto, cpu, tiny (offline, random weights), quality, compact or fast")
    cache_dir: Path = Field(Path.home() / ".cache" / "molbert", description="tiny models and caches")
    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    generator: str | None = Field(None, description="diffusers hub id or local dir; replaces the preset's")
    translator: str | None = Field(None, description="MarianMT ru→en hub id or local dir; default opus-mt-ru-en")
    classifier: str | None = Field(None, description="zero-shot classifier hub id or local dir; default: ruCLIP")
    small_models_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "float32", description="classifier and translator weights; auto: the generator's (bf16/fp16 on a GPU)"
    )
    compile: bool = Field(False, description="torch.compile the denoiser: slow first images, faster after")
    cpu_offload: Literal["auto", "none", "model", "sequential"] = Field(
        "auto", description="keep weights in CPU memory; auto: model offload only where the preset needs it to fit"
    )
    vae_tiling: Literal["auto", "on", "off"] = Field("auto", description="tiled VAE decoding; auto: above ~1.5 MP")
    channels_last: Literal["auto", "on", "off"] = Field(
        "auto", description="channels-last UNet and VAE; auto: on for CUDA with a UNet denoiser"
    )
    warmup: bool = Field(True, description="paint one throwaway picture at start, before taking jobs")
    cpu_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="the generator's dtype on the CPU; bfloat16: half the RAM, faster with AVX-512 BF16 or AMX; "
        "auto: bfloat16 where the CPU has them",
    )
    cpu_backend: Literal["auto", "torch", "openvino"] = Field(
        "auto",
        description="what runs the CPU generator's UNet and tiny decoder; openvino: the `openvino` extra, converted "
        "once into MODEL_CACHE_DIR/openvino; auto: openvino for the cpu preset where the extra is installed",
    )
    threads: int = Field(0, ge=0, le=1024, description="torch CPU threads; 0: the CPUs this process may use")
    # the learned re-ranker (issue #22)
    ranker_dir: Path | None = Field(
        None, description="learned rankers: train-ranker writes them, workers load them; default <cache_dir>/rankers"
    )
    ranker_margin: float = Field(
        0.02, ge=0.0, le=1.0, description="a learned ranker is used only if its held-out nDCG@1 beats cosine's by more"
    )

    # --- upscale (⤴ ×2 / ×4, --up) ---
    upscaler: str | None = Field(
        None, description="super-resolution weights: <hub id>:<file> or a local file, any spandrel reads; off: none"
    )
    upscaler_lazy: bool = Field(False, description="load the upscaler on its first job instead of at start")

    prompt_writer: str | None = Field(
        None, description="✨ enhancement LLM: hub id or local dir; off: none; default: the preset's (Qwen2.5-0.5B)"
    )
    prompt_writer_timeout: float = Field(
        90.0, gt=0, le=600, description="seconds one enhancement may take at most (a 2-core CPU needs tens)"
    )
    prompt_writer_lazy: bool = Field(False, description="load the prompt writer at its first use, not at start")

    @field_validator("cache_dir")
    @classmethod
    def _home(cls, path: Path) -> Path:
        return path.expanduser()  # `~/models` written in .env

    @field_validator("ranker_dir")
    @classmethod
    def _ranker_home(cls, path: Path | None) -> Path | None:
        return None if path is None else path.expanduser()

    @property
    def gpu_options(self) -> GpuOptions:
        """How the generator runs on its device: the worker loads it so, and `python -m workers download` converts
        it for the same backend and dtype."""
        from models.acceleration import GpuOptions  # no torch at import

        return GpuOptions(
            compile=self.compile,
            cpu_offload=self.cpu_offload,
            vae_tiling=self.vae_tiling,
            channels_last=self.channels_last,
            cpu_dtype=self.cpu_dtype,
            cpu_backend=self.cpu_backend,
        )

    @property
    def loads_on(self) -> str | None:
        """``MODEL_DEVICE`` as the loaders take it: None lets them pick the best device (``auto``)."""
        return None if self.device == "auto" else self.device

    @property
    def rankers(self) -> Path:
        """Where learned rankers are saved and loaded (``MODEL_RANKER_DIR``, else under the cache dir)."""
        return self.ranker_dir or self.cache_dir / "rankers"

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, name: str) -> str:
        from models.presets import PRESETS  # cheap: the preset table imports no torch

        names = ("auto", *PRESETS)
        if name not in names:
            raise ValueError(f"unknown preset; choose one of: {', '.join(names)}")
        return name


class WorkerSettings(BaseSettings):
    """``WORKER_*``: the RQ worker process."""

    model_config = settings_config("WORKER_")

    queues: str = Field("", description="comma-separated queue names; empty = classification, then generation")
    name: str | None = Field(None, description="worker name in RQ; default: a random id")
    batch_size: int = Field(8, ge=1, le=256, description="classification jobs scored in one forward pass, at most")
    metrics_port: int = Field(9102, ge=0, le=65535, description="/metrics and /healthz port; 0 = off")
    malloc_keep_mb: int = Field(
        1024, ge=0, le=2047, description="freed host memory blocks up to this size stay for reuse; 0 = glibc's way"
    )


class WorkerConfig(ProcessConfig):
    """Everything a worker reads, loaded once by ``python -m workers``."""

    redis: RedisSettings
    model: ModelSettings
    worker: WorkerSettings
    log: LogSettings
    safety: SafetySettings  # checked before the models load; used once they have

    @model_validator(mode="after")
    def _needs_redis(self) -> Self:
        if self.redis.url is None:  # only the frontend starts an embedded one
            raise config_rule("REDIS_URL", "required for a worker (redis://host:6379/0)")
        return self
