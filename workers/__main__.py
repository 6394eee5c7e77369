"""``python -m workers``: load the preset's models once, then serve the Molbert queues until stopped."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from core.blocklist import PromptBlocklist
from core.config import ConfigError, SafetySettings, export_library_variables, load
from core.connection import connect
from core.heap import settle_startup_heap
from core.telemetry import probe_health
from workers import runtime
from workers.allocator import AllocatorConfig, apply_allocator_default, keep_freed_memory
from workers.config import ModelSettings, WorkerConfig, WorkerSettings
from workers.monitoring import WorkerHealth, start_monitoring
from workers.safety import DEFAULT_SAFE_LABELS, DEFAULT_UNSAFE_LABELS, ImageSafety, labels_from_setting
from workers.worker import MolbertWorker, parse_queues, wait_for_redis

if TYPE_CHECKING:
    from redis import Redis

    from models.presets import LoadedModels
    from workers.ranking import RankerSwitch

log = logging.getLogger("workers")


def image_safety(models: LoadedModels, settings: SafetySettings) -> ImageSafety:
    """The output check from ``SAFETY_*``, built on the loaded classifier."""
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
        raise ConfigError("MODEL_COMPILE", f"{problem}; install them or set MODEL_COMPILE=false")


def check_cpu_backend(backend: str) -> None:
    """``MODEL_CPU_BACKEND=openvino`` without the optional ``openvino`` package is a configuration error at start,
    found before torch is imported and any model loads (``models.openvino_backend.require`` says the same later)."""
    import importlib.util

    if backend == "openvino" and importlib.util.find_spec("openvino") is None:
        why = "openvino needs the optional `openvino` package: pip install 'molbert[openvino]', or set torch"
        raise ConfigError("MODEL_CPU_BACKEND", why)


def health_command() -> int:
    """``python -m workers health``: ask the running worker's ``/healthz`` (a Docker HEALTHCHECK); 0 healthy, else 1.
    A probe of the running worker: it needs the port, not the whole configuration (nor ``REDIS_URL``)."""
    return probe_health(load(WorkerSettings).metrics_port)


def settings() -> WorkerConfig:
    """The worker's whole configuration, checked before torch is imported (a bad value costs no model load)."""
    config = WorkerConfig.load()
    config.log.apply()
    if config.model.compile:
        check_compile_toolchain(config.model.device)
    check_cpu_backend(config.model.cpu_backend)
    return config


def load_configured_models(settings: ModelSettings) -> LoadedModels:
    """The models ``MODEL_*`` names, on its device with its GPU options."""
    from models.presets import load_models  # torch is imported only once the settings are known to be good

    return load_models(
        settings.preset,
        settings.cache_dir,
        device=settings.loads_on,
        generator=settings.generator,
        translator=settings.translator,
        classifier=settings.classifier,
        small_models_dtype=settings.small_models_dtype,
        threads=settings.threads,
        upscaler=settings.upscaler,
        upscaler_lazy=settings.upscaler_lazy,
        prompt_writer=settings.prompt_writer,
        prompt_writer_timeout=settings.prompt_writer_timeout,
        prompt_writer_lazy=settings.prompt_writer_lazy,
        gpu=settings.gpu_options,
    )


def build(config: WorkerConfig, allocator: AllocatorConfig) -> MolbertWorker:
    """Load the models (reporting unhealthy on ``/healthz`` meanwhile) and the worker that serves them."""
    assert config.redis.url is not None  # WorkerConfig requires it
    connection = connect(config.redis.url.get_secret_value())
    health = WorkerHealth(connection)
    start_monitoring(config.worker.metrics_port, health)  # unhealthy ("models": false) until they are loaded
    log.info("CUDA allocator: %s", allocator.describe())
    log.info("host malloc: %s", keep_freed_memory(config.worker.malloc_keep_mb))
    models = load_configured_models(config.model)
    safety = image_safety(models, config.safety)
    if config.model.warmup:
        warm_up_models(models, safety)
    runtime.set_batch_size(config.worker.batch_size)
    runtime.set_blocklist(PromptBlocklist.load(config.safety.blocklist_file))
    wait_for_redis(connection)
    queues = parse_queues(config.worker.queues)
    worker = MolbertWorker(models, connection, queues, name=config.worker.name, safety=safety)
    runtime.set_ranker(learned_ranker(config.model, models, connection))
    health.stuck = worker.is_stuck
    return worker


def learned_ranker(settings: ModelSettings, models: LoadedModels, connection: Redis) -> RankerSwitch:
    """The switch between cosine and a learned ranker (``MODEL_RANKER_*``, `workers.ranking`), loaded now."""
    from workers.ranking import ranker_switch

    return ranker_switch(settings.rankers, settings.ranker_margin, models.classifier.name, connection)


def serve(worker: MolbertWorker) -> None:
    """Take jobs until stopped."""
    log.info("start-up objects set aside from garbage collection: %d", settle_startup_heap())
    models = worker.models
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


def run(argv: list[str]) -> int:
    """The command ``argv`` names: a worker (no arguments), ``download``, ``health`` or ``train-ranker``; its exit
    code."""
    if argv[:1] == ["download"]:
        from workers.download import main as download

        return download(argv[1:])
    if argv[:1] == ["health"]:
        return health_command()
    if argv[:1] == ["train-ranker"]:
        from workers.train_ranker import main as train_ranker

        return train_ranker(argv[1:])
    allocator = apply_allocator_default()  # before anything imports torch, which reads it when CUDA starts
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(build(settings(), allocator))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for a configuration error, printed as one line)."""
    export_library_variables()  # HF_HOME, HF_HUB_OFFLINE from .env, before huggingface_hub reads them
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
