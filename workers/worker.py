"""The Molbert worker: an RQ worker that loads its models once and runs every job in its own process."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import redis
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

from handlers.protocol import CLASSIFY_QUEUE, GENERATE_QUEUE
from workers import runtime

if TYPE_CHECKING:
    from models.presets import LoadedModels
    from workers.safety import ImageSafety

log = logging.getLogger(__name__)

# Photos take a fraction of a second, pictures take many: a waiting photo goes first.
DEFAULT_QUEUES = (CLASSIFY_QUEUE, GENERATE_QUEUE)


class MolbertWorker(SimpleWorker):
    """Runs jobs in-process with warm models.

    RQ's default worker forks a child per job; a forked child cannot re-initialise CUDA and would have to load
    the models again, so this worker executes jobs in its own process, where the models already are.
    """

    def __init__(
        self,
        models: LoadedModels,
        connection: redis.Redis,
        queues: tuple[str, ...] | list[str] = DEFAULT_QUEUES,
        name: str | None = None,
        safety: ImageSafety | None = None,
    ) -> None:
        # log_job_description=False: job arguments hold prompts and chat ids, which do not belong in logs
        super().__init__(
            list(queues), connection=connection, serializer=JSONSerializer, name=name, log_job_description=False
        )
        self.models = models
        runtime.set_models(models, safety)


def parse_queues(value: str) -> tuple[str, ...]:
    """``"a, b"`` → ``("a", "b")``; empty → the default order (classification first)."""
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    return names or DEFAULT_QUEUES
