"""How a worker hands results back: image bytes under their own keys, an event on the frontend's stream."""

from __future__ import annotations

import io
import time

import redis
from PIL import Image

from core.keys import active_key, durations_key, feedback_context_key, grid_key, image_key, result_stream
from core.protocol import FeedbackContext, ResultEvent
from workers import monitoring

RESULT_TTL = 24 * 3600
STREAM_MAXLEN = 100_000
DURATIONS_KEPT = 50


def store_images(connection: redis.Redis, job_id: str, images: list[Image.Image]) -> list[str]:
    """Save each image as PNG under ``image_key(job_id, i)`` with a TTL; return the keys."""
    keys = []
    with connection.pipeline() as pipe:
        for index, image in enumerate(images):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            key = image_key(job_id, index)
            pipe.set(key, buffer.getvalue(), ex=RESULT_TTL)
            keys.append(key)
        pipe.execute()
    return keys


def store_grid(connection: redis.Redis, job_id: str, images: list[Image.Image]) -> str:
    """Save the images side by side, two per row (a 2×2 grid for four), under ``grid_key(job_id)``."""
    columns = min(2, len(images))
    rows = -(-len(images) // columns)
    width, height = images[0].size
    grid = Image.new("RGB", (width * columns, height * rows), "white")
    for index, image in enumerate(images):
        grid.paste(image.resize((width, height)), ((index % columns) * width, (index // columns) * height))
    buffer = io.BytesIO()
    grid.save(buffer, format="PNG")
    key = grid_key(job_id)
    connection.set(key, buffer.getvalue(), ex=RESULT_TTL)
    return key


def store_feedback_context(connection: redis.Redis, job_id: str, context: FeedbackContext) -> None:
    """Leave a result's request and embeddings for the frontend's feedback store, as long as its images live."""
    connection.set(feedback_context_key(job_id), context.model_dump_json(), ex=RESULT_TTL)


def record_duration(connection: redis.Redis, queue: str, seconds: float) -> None:
    """Remember how long a job on ``queue`` took (the last ``DURATIONS_KEPT``), for frontends' wait estimates."""
    with connection.pipeline() as pipe:
        pipe.lpush(durations_key(queue), f"{seconds:.3f}")
        pipe.ltrim(durations_key(queue), 0, DURATIONS_KEPT - 1)
        pipe.execute()


def publish(connection: redis.Redis, event: ResultEvent) -> str:
    """Append ``event`` to the result stream of the platform that owns its chat; return the entry id.

    A job's result (not a progress report) is stamped ``published``, counted and logged.
    """
    if event.kind != "progress":
        event.times.published = time.time()
    with connection.pipeline() as pipe:
        pipe.xadd(
            result_stream(event.chat.platform),
            {"event": event.model_dump_json()},
            maxlen=STREAM_MAXLEN,
            approximate=True,
        )
        if event.kind != "progress":  # the job is over: its user's slot is free again
            pipe.zrem(active_key(event.chat.platform, event.chat.user_id), event.job_id)
        entry_id = pipe.execute()[0]
    monitoring.published(event)
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id
