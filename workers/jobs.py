"""Job functions, called by RQ through their dotted paths (``handlers.protocol``) with JSON payloads."""

from __future__ import annotations

import hashlib
import io
import logging
import time

from PIL import Image
from rq import get_current_job
from rq.job import Job

from handlers.protocol import CLASSIFY_QUEUE, GENERATE_QUEUE, ClassifyJob, GenerateJob, ResultEvent, ScoredLabel
from models.generator import VariationsUnsupported
from models.labels import default_labels
from workers import runtime
from workers.progress import ProgressReporter
from workers.publish import publish, record_duration, store_grid, store_images

log = logging.getLogger(__name__)

TOP_LABELS = 10


class Refusal(Exception):
    """The job cannot be done and retrying cannot help; ``error_key`` is the texts.py key that explains why."""

    def __init__(self, reason: str, error_key: str) -> None:
        super().__init__(reason)
        self.error_key = error_key


def generate(payload: dict) -> dict:
    """Paint ``payload``'s prompt (or vary its image) and publish the images to the chat's frontend."""
    request = GenerateJob.model_validate(payload)
    job = get_current_job()
    try:
        images, hidden, seconds = _paint(job, request)
    except VariationsUnsupported as exc:
        return _publish_refusal(job, request.chat, "imagine", Refusal(str(exc), "variations_unsupported"))
    except Refusal as refusal:
        return _publish_refusal(job, request.chat, "imagine", refusal)
    keys = store_images(job.connection, job.id, images)
    event = ResultEvent(
        job_id=job.id,
        kind="imagine",
        chat=request.chat,
        generation=request,
        model=short_model_name(runtime.models().generator.name),
        seconds=round(seconds, 3),
        image_keys=keys,
        grid_key=store_grid(job.connection, job.id, images) if len(images) > 1 else None,
        hidden=hidden,
    )
    publish(job.connection, event)
    record_duration(job.connection, GENERATE_QUEUE, seconds)
    return {"image_keys": keys, "seconds": event.seconds}


def _paint(job: Job, request: GenerateJob) -> tuple[list[Image.Image], list[int], float]:
    """Run the generator for ``request`` (text-to-image or a variation, best-of-N ranked by CLIP), then the
    output check; return the images (unsafe ones blurred), the indices of those, and the seconds taken."""
    models = runtime.models()
    generator = models.generator
    candidates = request.best_of or request.num_images
    # in English for a generator that reads no Russian; best-of still ranks by the user's own words
    prompt, negative = models.generator_words(request.model_prompt or request.prompt, request.model_negative)
    options = {
        "seed": request.seed,
        "num_images": candidates,
        "steps": request.steps,
        "negative_prompt": negative,
        "on_step": ProgressReporter(job.connection, job.id, request.chat),
    }
    started = time.perf_counter()
    if request.init_image_key:
        source = _load_image(job, request.init_image_key, "variation_source_gone")
        images = generator.vary(source, prompt, strength=request.strength, **options)
    else:
        width, height = generator.size_for(request.aspect)
        images = generator.generate(prompt, width=width, height=height, **options)
    if request.best_of:
        order = models.classifier.rank_images(images, request.prompt)
        images = [images[index] for index in order[: request.num_images]]
    images, hidden = runtime.safety().screen(images)
    if hidden:
        log.warning("job %s: %d of %d images hidden by the output check", job.id, len(hidden), len(images))
    return images, hidden, time.perf_counter() - started


def classify(payload: dict) -> dict:
    """Score ``payload``'s photo against its labels (or the default set) and publish the top labels."""
    request = ClassifyJob.model_validate(payload)
    job = get_current_job()
    try:
        image = _load_image(job, request.image_key, "photo_gone")
    except Refusal as refusal:
        return _publish_refusal(job, request.chat, "classify", refusal)
    labels = request.labels or list(default_labels())
    question = labels[0] if len(labels) == 1 else None
    if question:  # one label: is it the photo, rather than any everyday thing?
        labels = [question, *(label for label in default_labels() if label.casefold() != question.casefold())]
    started = time.perf_counter()
    scores = runtime.models().classifier.classify(image, labels)
    seconds = time.perf_counter() - started
    event = ResultEvent(
        job_id=job.id,
        kind="classify",
        chat=request.chat,
        labels=[ScoredLabel(label=label, score=score) for label, score in scores[:TOP_LABELS]],
        user_labels=request.labels is not None,
        label_count=len(labels),
        question=question,
        model=short_model_name(runtime.models().classifier.name),
        seconds=round(seconds, 3),
    )
    publish(job.connection, event)
    record_duration(job.connection, CLASSIFY_QUEUE, seconds)
    job.connection.delete(request.image_key)
    return {"labels": [label.model_dump() for label in event.labels]}


def _load_image(job: Job, key: str, error_key: str) -> Image.Image:
    data = job.connection.get(key)
    if data is None:
        raise Refusal(f"{key} is gone", error_key)
    return Image.open(io.BytesIO(data)).convert("RGB")


def _publish_refusal(job: Job, chat, kind: str, refusal: Refusal) -> dict:
    log.warning("job %s refused: %s", job.id, refusal)
    publish(job.connection, ResultEvent(job_id=job.id, kind=kind, chat=chat, ok=False, error_key=refusal.error_key))
    return {"error": refusal.error_key}


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
        generation=payload if kind == "imagine" else None,
    )
    publish(connection, event)
