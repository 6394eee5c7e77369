"""Job functions, called by RQ through their dotted paths (``handlers.protocol``) with JSON payloads."""

from __future__ import annotations

import hashlib
import io
import logging
import time

from PIL import Image
from rq import get_current_job
from rq.job import Job

from handlers.protocol import ClassifyJob, GenerateJob, ResultEvent, ScoredLabel
from models.labels import default_labels
from workers import runtime
from workers.publish import publish, store_images

log = logging.getLogger(__name__)

TOP_LABELS = 10


def generate(payload: dict) -> dict:
    """Paint ``payload``'s prompt with the loaded generator and publish the images to the chat's frontend."""
    request = GenerateJob.model_validate(payload)
    job = get_current_job()
    models = runtime.models()
    started = time.perf_counter()
    images = models.generator.generate(request.prompt, seed=request.seed, num_images=request.num_images)
    seconds = time.perf_counter() - started
    keys = store_images(job.connection, job.id, images)
    event = ResultEvent(
        job_id=job.id,
        kind="imagine",
        chat=request.chat,
        ok=True,
        prompt=request.prompt,
        seed=request.seed,
        model=short_model_name(models.generator.name),
        seconds=round(seconds, 3),
        image_keys=keys,
    )
    publish(job.connection, event)
    return {"image_keys": keys, "seconds": event.seconds}


def classify(payload: dict) -> dict:
    """Score ``payload``'s photo against its labels (or the default set) and publish the top labels."""
    request = ClassifyJob.model_validate(payload)
    job = get_current_job()
    data = job.connection.get(request.image_key)
    if data is None:
        raise LookupError(f"input image {request.image_key} expired before the job ran")
    image = Image.open(io.BytesIO(data)).convert("RGB")
    labels = request.labels or list(default_labels())
    started = time.perf_counter()
    scores = runtime.models().classifier.classify(image, labels)
    seconds = time.perf_counter() - started
    event = ResultEvent(
        job_id=job.id,
        kind="classify",
        chat=request.chat,
        ok=True,
        labels=[ScoredLabel(label=label, score=score) for label, score in scores[:TOP_LABELS]],
        user_labels=request.labels is not None,
        model=short_model_name(runtime.models().classifier.name),
        seconds=round(seconds, 3),
    )
    publish(job.connection, event)
    job.connection.delete(request.image_key)
    return {"labels": [label.model_dump() for label in event.labels]}


def short_model_name(source: str) -> str:
    """``kandinskylab/Kandinsky-5.0-T2I-Lite`` → ``Kandinsky-5.0-T2I-Lite``; a local dir → its folder name."""
    return source.rstrip("/").rsplit("/", 1)[-1]


def error_reference(job_id: str) -> str:
    """A short id the user can quote and the operator can find in the worker log."""
    return hashlib.blake2s(job_id.encode(), digest_size=4).hexdigest()


def report_failure(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: once a job has no retries left, tell its chat (the traceback stays in the log)."""
    if job.should_retry:
        log.warning("job %s failed (%s), %s retries left", job.id, exc_type.__name__, job.retries_left)
        return
    ref = error_reference(job.id)
    log.error("job %s failed for good, reference %s: %s", job.id, ref, exc_value)
    payload = job.args[0]
    kind = "imagine" if job.func_name.endswith(".generate") else "classify"
    event = ResultEvent(
        job_id=job.id,
        kind=kind,
        chat=payload["chat"],
        ok=False,
        error_ref=ref,
        prompt=payload.get("prompt"),
    )
    publish(connection, event)
