"""``python -m workers``: load the preset's models once, then serve the Molbert queues until stopped."""

from __future__ import annotations

import logging
import sys

import redis

from bot.settings import ConfigError, ModelSettings, RedisSettings, WorkerSettings, load
from workers.worker import MolbertWorker, parse_queues

log = logging.getLogger("workers")


def main() -> int:
    """Run one worker; returns the process exit code (2 for a configuration error)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        redis_settings, model_settings, worker_settings = (
            load(RedisSettings),
            load(ModelSettings),
            load(WorkerSettings),
        )
        if redis_settings.url is None:
            raise ConfigError("Configuration error: REDIS_URL: required for a worker (redis://host:6379/0)")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from models.presets import load_models  # torch is imported only once the settings are known to be good

    device = None if model_settings.device == "auto" else model_settings.device
    models = load_models(model_settings.preset, model_settings.cache_dir, device=device)
    connection = redis.Redis.from_url(redis_settings.url.get_secret_value())
    worker = MolbertWorker(models, connection, parse_queues(worker_settings.queues), name=worker_settings.name)
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
    worker.work(logging_level="INFO")
    return 0


if __name__ == "__main__":
    sys.exit(main())
