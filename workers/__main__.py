"""``python -m workers``: load the preset's models once, then serve the Molbert queues until stopped."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from core.config import (
    ConfigError,
    LogSettings,
    ModelSettings,
    RedisSettings,
    SafetySettings,
    WorkerSettings,
    export_library_variables,
    load,
)
from core.connection import connect
from core.heap import settle_startup_heap
from core.telemetry import probe_health
from workers import runtime
from workers.allocator import apply_allocator_default, keep_freed_memory
from workers.monitoring import WorkerHealth, start_monitoring
from workers.safety import DEFAULT_SAFE_LABELS, DEFAULT_UNSAFE_LABELS, ImageSafety, labels_from_setting
from workers.worker import MolbertWorker, parse_queues, wait_for_redis

if TYPE_CHECKING:
    from models.presets import LoadedModels

log = logging.getLogger("workers")


def image_safety(models: LoadedModels) -> ImageSafety:
    """The output check from ``SAFETY_*``, built on the loaded classifier."""
    settings = load(SafetySettings)
    return ImageSafety(
        models.classifier,
        unsafe_labels=labels_from_setting(settings.nsfw_labels, DEFAULT_UNSAFE_LABELS),
        safe_labels=labels_from_setting(settings.safe_labels, DEFAULT_SAFE_LABELS),
        threshold=settings.nsfw_threshold,
    )


def warm_up_models(models: LoadedModels, safety: ImageSafety) -> None:
    """``MODEL_WARMUP``: paint and check one throwaway picture before taking jobs (``models.warmup``).

    A failure is logged and the worker starts anyway: it may still serve photos, and the first job will show
    the same error to its user rather than the worker restarting in a loop.
    """
    from models.warmup import warm_up

    try:
        warm_up(models, safety.screen)
    except Exception:
        log.exception("warm-up failed; starting without it")


def check_compile_toolchain(device: str) -> None:
    """``MODEL_COMPILE=true`` where ``torch.compile`` cannot build its kernels (no compiler, no Python headers) is a
    configuration error at start: otherwise the warm-up fails, the worker starts anyway and every picture fails."""
    from models.acceleration import compile_toolchain_problem
    from models.device import pick_device  # imports torch: only when MODEL_COMPILE asks for it

    problem = compile_toolchain_problem(pick_device(device))
    if problem is not None:
        raise ConfigError(f"Configuration error: MODEL_COMPILE: {problem}; install them or set MODEL_COMPILE=false")


def health_command() -> int:
    """``python -m workers health``: ask the running worker's ``/healthz`` (a Docker HEALTHCHECK); 0 healthy, else 1."""
    try:
        port = load(WorkerSettings).metrics_port
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return probe_health(port)


def main(argv: list[str] | None = None) -> int:
    """Run one worker (or ``download``); returns the process exit code (2 for a configuration error)."""
    argv = sys.argv[1:] if argv is None else argv
    export_library_variables()  # HF_HOME, HF_HUB_OFFLINE from .env, before huggingface_hub reads them
    if argv[:1] == ["download"]:
        from workers.download import main as download

        return download(argv[1:])
    if argv[:1] == ["health"]:
        return health_command()
    allocator = apply_allocator_default()  # before anything imports torch, which reads it when CUDA starts
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        redis_settings, model_settings, worker_settings, _ = (
            load(RedisSettings),
            load(ModelSettings),
            load(WorkerSettings),
            load(SafetySettings),  # checked before the models load; used once they have
        )
        load(LogSettings).apply()
        if redis_settings.url is None:
            raise ConfigError("Configuration error: REDIS_URL: required for a worker (redis://host:6379/0)")
        if model_settings.compile:
            check_compile_toolchain(model_settings.device)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    connection = connect(redis_settings.url.get_secret_value())
    health = WorkerHealth(connection)
    start_monitoring(worker_settings.metrics_port, health)  # unhealthy ("models": false) until they are loaded
    from models.acceleration import GpuOptions
    from models.presets import load_models  # torch is imported only once the settings are known to be good

    log.info("CUDA allocator: %s", allocator.describe())
    log.info("host malloc: %s", keep_freed_memory(worker_settings.malloc_keep_mb))
    device = None if model_settings.device == "auto" else model_settings.device
    models = load_models(
        model_settings.preset,
        model_settings.cache_dir,
        device=device,
        generator=model_settings.generator,
        translator=model_settings.translator,
        classifier=model_settings.classifier,
        small_models_dtype=model_settings.small_models_dtype,
        threads=model_settings.threads,
        gpu=GpuOptions(
            compile=model_settings.compile,
            cpu_offload=model_settings.cpu_offload,
            vae_tiling=model_settings.vae_tiling,
            channels_last=model_settings.channels_last,
            cpu_dtype=model_settings.cpu_dtype,
        ),
    )
    safety = image_safety(models)
    if model_settings.warmup:
        warm_up_models(models, safety)
    queues = parse_queues(worker_settings.queues)
    runtime.set_batch_size(worker_settings.batch_size)
    wait_for_redis(connection)
    worker = MolbertWorker(models, connection, queues, name=worker_settings.name, safety=safety)
    health.stuck = worker.is_stuck
    log.info("start-up objects set aside from garbage collection: %d", settle_startup_heap())
    log.info(
        "ready: preset %s, generator %s, classifier %s, on %s/%s, loaded in %.1f s; queues %s",
        models.preset.name,
        models.generator.name,
        models.classifier.name,
        models.device,
        str(models.dtype).removeprefix("torch."),
        models.load_seconds,
        ", ".join(q.name for q in worker.queues),
    )
    worker.serve(logging_level="INFO")
    return 0


if __name__ == "__main__":
    sys.exit(main())
