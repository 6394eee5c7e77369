"""Job functions, called by RQ through their dotted paths (``core.protocol``) with JSON payloads."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import logging
import time
from datetime import UTC
from typing import TypedDict, TypeVar

import torch
from PIL import Image
from pydantic import BaseModel, ValidationError
from rq import Queue, get_current_job
from rq.job import Job
from rq.serializers import JSONSerializer

from core.keys import answered_key, cancel_key, described_key, outpaint_key, photo_key
from core.protocol import (
    CLASSIFY_FUNC,
    CLASSIFY_QUEUE,
    ChatRef,
    ClassifyJob,
    DescribeJob,
    Description,
    FeedbackContext,
    GenerateJob,
    JobKind,
    RankJob,
    ResultEvent,
    ScoredLabel,
    StageTimes,
    StoredDescription,
    TaughtLabel,
    TaughtPrototype,
    TeachJob,
    job_kind,
)
from core.telemetry import log_job
from models.classifier import TAUGHT_VERSION, ZeroShotClassifier
from models.generator import ImageGenerator, OutpaintingUnsupported, VariationsUnsupported
from models.labels import default_labels
from workers import monitoring, runtime, upscaling
from workers.enhance import enhance_request
from workers.progress import JobCancelled, ProgressReporter
from workers.publish import RESULT_TTL, publish, record_duration, store_feedback_context, store_grid, store_images

log = logging.getLogger(__name__)

TOP_LABELS = 10
ANSWERED_TTL = 3600  # as long as a queued photo is kept
CLAIM_PREFIX = "claimed:"  # an answered-marker value while a batch is scoring the job: "claimed:<batch's job id>"
CLAIM_WAIT = 30.0  # how long a job waits for the batch that claimed it before answering itself


_Model = TypeVar("_Model", bound=BaseModel)


class _PaintOptions(TypedDict):
    """The keyword arguments ``generate`` and ``vary`` share."""

    seed: int
    num_images: int
    steps: int | None
    negative_prompt: str | None
    on_step: ProgressReporter


def current_job() -> Job:
    """The RQ job this function runs in; the job functions run only under a worker, so its absence is a bug."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("a job function was called outside an RQ job")
    return job


class Refusal(Exception):
    """The job cannot be done and retrying cannot help; ``error_key`` is the texts.py key that explains why."""

    def __init__(self, reason: str, error_key: str) -> None:
        super().__init__(reason)
        self.error_key = error_key


def generate(payload: dict) -> dict:
    """Paint ``payload``'s prompt (or vary its image) and publish the images to the chat's frontend."""
    request = with_count(GenerateJob.model_validate(payload), runtime.models().default_images)
    job = current_job()
    times = monitoring.picked_up(job.id, "imagine", request.chat, request.times)
    typed = request.prompt
    started = time.perf_counter()
    request, enhance_failed = enhance_request(request, job.id, job.connection)
    writing = time.perf_counter() - started
    out_of_memory = False
    try:
        images, hidden, seconds = _paint(job, request)
        seconds += writing
    except VariationsUnsupported as exc:
        return _publish_refusal(job, request.chat, "imagine", Refusal(str(exc), "variations_unsupported"))
    except OutpaintingUnsupported as exc:
        return _publish_refusal(job, request.chat, "imagine", Refusal(str(exc), "outpaint_unsupported"))
    except JobCancelled:
        job.connection.delete(cancel_key(job.id))
        _keep_photo_for_rerolls(job, request, painted=False)
        return _publish_refusal(job, request.chat, "imagine", Refusal("cancelled while running", "cancelled"))
    except Refusal as refusal:
        _keep_photo_for_rerolls(job, request, painted=False)
        return _publish_refusal(job, request.chat, "imagine", refusal)
    except upscaling.UpscaleRefused as exc:
        _keep_photo_for_rerolls(job, request, painted=False)
        return _publish_refusal(job, request.chat, "imagine", Refusal(str(exc), exc.error_key))
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        # the same request would run out again: refuse it without RQ's retries, free what it held, keep serving
        log.warning("job %s ran out of memory: %s", job.id, str(exc).splitlines()[0][:200])
        out_of_memory = True
    if out_of_memory:  # out of the except block: the error's traceback, and the failed run's tensors, are gone
        _free_accelerator_memory()
        return _publish_refusal(job, request.chat, "imagine", Refusal("out of memory", "out_of_memory"))
    _keep_photo_for_rerolls(job, request, painted=True)
    _leave_feedback_context(job, request, images)  # model work (the CLIP encoders): before the stamp
    times = monitoring.model_done(job.id, "imagine", request.chat, times, seconds)
    keys = store_images(job.connection, job.id, images)
    outpainting = _note_outpainting(job, runtime.models().generator)
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
        variations=runtime.models().generator.makes_variations and not request.upscale,
        negative_ignored=_negative_ignored(request, runtime.models().generator),
        times=times,
        outpainting=outpainting,
        upscale=request.upscale,
        upscaler=upscaling.upscaler_name() if request.upscale else None,
        enhanced_from=typed if request.prompt != typed else None,
        enhance_failed=enhance_failed,
    )
    publish(job.connection, event)
    if not request.upscale:  # an upscale's minutes on a CPU would skew the queue's estimate for pictures
        record_duration(job.connection, job.origin, seconds)  # per generator queue: each class has its own pace
    return {"image_keys": keys, "seconds": event.seconds}


def with_count(request: GenerateJob, default: int) -> GenerateJob:
    """``request`` with the number of pictures it gets: its own, else the generator's ``default`` (no more than
    ``--best`` candidates). The caption's ``/imagine`` line then says ``--n``, so it reproduces the picture even
    where another deployment's default differs."""
    if request.num_images is not None:
        return request
    return request.model_copy(update={"num_images": min(default, request.best_of or default)})


def _paint(job: Job, request: GenerateJob) -> tuple[list[Image.Image], list[int], float]:
    """Run the generator for ``request`` (text-to-image or a variation, best-of-N ranked by CLIP), then the
    output check; return the images (unsafe ones blurred), the indices of those, and the seconds taken."""
    if request.upscale and request.init_image_key:  # ⤴ under a picture: that picture alone, enlarged
        source = _load_image(job, request.init_image_key, "upscale_source_gone")
        return upscaling.enlarge_stored(job, request, source)
    models = runtime.models()
    generator = models.generator
    count = request.num_images or 1  # set by with_count
    candidates = request.best_of or count
    # in English for a generator that reads no Russian; best-of still ranks by the user's own words
    prompt, negative = models.generator_words(request.model_prompt or request.prompt, request.model_negative)
    options: _PaintOptions = {
        "seed": request.seed,
        "num_images": candidates,
        "steps": request.steps,
        "negative_prompt": negative,
        "on_step": ProgressReporter(job.connection, job.id, request.chat),
    }
    started = time.perf_counter()
    if request.outpaint:
        source = _outpaint_source(job, request)
        images = generator.outpaint(source, request.outpaint, prompt, **options)
    elif request.init_image_key:
        source = _load_image(job, request.init_image_key, "variation_source_gone")
        images = generator.vary(source, prompt, strength=request.strength, **options)
    elif request.photo_key:
        photo = _load_photo(job, request.photo_key)
        # the photo's aspect ratio at the model's own size (a phone photo's 4000×3000 would not fit in memory)
        size = generator.size_for(request.aspect or photo.size)
        images = generator.vary(photo, prompt, strength=request.strength, size=size, **options)
    else:
        width, height = generator.size_for(request.aspect)
        images = generator.generate(prompt, width=width, height=height, **options)
    if request.best_of:
        order = models.classifier.rank_images(images, request.prompt, ranker=runtime.ranker())
        images = [images[index] for index in order[:count]]
    images, hidden = runtime.safety().screen(images, request.nsfw_threshold)
    if hidden:
        log.warning("job %s: %d of %d images hidden by the output check", job.id, len(hidden), len(images))
    if request.upscale:  # --up: the final pictures (after --best and the check), as ruDALL-E's third stage
        images = upscaling.enlarge(job, request, images)
    return images, hidden, time.perf_counter() - started


def _outpaint_source(job: Job, request: GenerateJob) -> Image.Image:
    """The picture a zoom out / pan starts from; refused when this worker's generator cannot outpaint (a forged
    press, or a queue another generator took over) or the picture expired."""
    generator = runtime.models().generator
    if not generator.makes_outpaintings:
        raise Refusal(f"{generator.name} cannot outpaint", "outpaint_unsupported")
    return _load_image(job, request.init_image_key or "", "outpaint_source_gone")


def _note_outpainting(job: Job, generator: ImageGenerator) -> bool:
    """Whether ``generator`` can zoom out and pan the job's images; where it can, say so in Redis for as long as
    the images are kept (the U image's buttons, sent by the frontend without a worker, read it)."""
    if not generator.makes_outpaintings:
        return False
    job.connection.set(outpaint_key(job.id), "1", ex=RESULT_TTL)
    return True


def _load_photo(job: Job, key: str) -> Image.Image:
    """The user's photo a picture starts from; refused (never painted without it) when this worker's generator
    has no image-to-image path (Kandinsky 5 Image Lite) or the photo expired."""
    if not runtime.models().generator.makes_variations:
        raise Refusal(f"{runtime.models().generator.name} paints from text only", "imagine_photo_unsupported")
    return _load_image(job, key, "imagine_photo_gone")


def _keep_photo_for_rerolls(job: Job, request: GenerateJob, painted: bool) -> None:
    """The photo a request painted from lives as long as its pictures (🔄 paints from it again); a request that
    ended without pictures (refused, cancelled) needs it no longer. Variations (V) and rerolls leave it be."""
    if request.photo_key is None or request.init_image_key:
        return
    if painted:
        job.connection.expire(request.photo_key, RESULT_TTL)
    else:
        _forget_photo(job.connection, job.id, request.model_dump())


def _forget_photo(connection, job_id: str, payload: dict) -> None:
    """Delete the photo of a request whose own job (not a reroll of it: those paint from a photo that has pictures)
    ended without pictures, so nothing will paint from it."""
    if payload.get("photo_key") == photo_key(job_id) and not payload.get("init_image_key"):
        connection.delete(photo_key(job_id))


def _negative_ignored(request: GenerateJob, generator: ImageGenerator) -> bool:
    """The user asked for ``--no`` and the model did not read it (no classifier-free guidance: SDXL-Turbo).

    A style's own negative words are the bot's, not the user's: dropping them is not worth a note.
    """
    return bool(request.negative) and generator.negative_heeded is False


def classify(payload: dict) -> dict:
    """Score ``payload``'s photo against its labels (or the default set) and publish the top labels.

    Micro-batching: the job also scores up to ``WORKER_BATCH_SIZE - 1`` classification jobs waiting behind it in
    the queue, all in one image-encoder pass, and publishes their results too, marking each as answered. Those
    jobs stay in the queue and run through RQ as usual (so its registries, retries and TTLs are untouched), but
    find their answer already given and return at once. A batch claims each job first (``SET NX``), so with several
    workers each photo is scored once; a job claimed by a batch still running waits for its answer. A batch that
    fails gives its claims back, and a job whose claimer vanished answers itself after ``CLAIM_WAIT`` seconds.
    """
    request = ClassifyJob.model_validate(payload)
    job = current_job()
    picked = time.time()
    if not _claim(job.connection, job.id, job.id):
        answered = _answer_of(job.connection, job.id)
        if answered is not None:
            return answered
    try:
        image = _load_image(job, request.image_key, "photo_gone")
    except Refusal as refusal:
        return _publish_refusal(job, request.chat, "classify", refusal)
    batch = [(job.id, request, image), *_waiting_classifications(job, runtime.batch_size() - 1)]
    try:
        return _classify_batch(job, batch, picked)
    except BaseException:
        _release_claims(job.connection, [job_id for job_id, _request, _image in batch])
        raise


def _classify_batch(job: Job, batch: list[tuple[str, ClassifyJob, Image.Image]], picked: float) -> dict:
    """Score a batch in one pass, publish every result, and leave each peeked job its answer.

    Every job of the batch counts as picked up at ``picked``, when the job that scores them started.
    """
    stamps = [
        monitoring.picked_up(job_id, "classify", request.chat, request.times, picked) for job_id, request, _ in batch
    ]
    labels = [_labels_of(request) for _id, request, _image in batch]
    classifier = runtime.models().classifier
    started = time.perf_counter()
    taught = [[_taught(c, classifier) for c in request.taught] for _id, request, _image in batch]
    results = classifier.classify_batch([image for _id, _request, image in batch], [ls for ls, _q in labels], taught)
    seconds = (time.perf_counter() - started) / len(batch)
    if len(batch) > 1:
        log.info("job %s classified %d waiting photos in one batch", job.id, len(batch))
    own: dict | None = None
    for (job_id, request, _image), (label_list, question), scores, times in zip(
        batch, labels, results, stamps, strict=True
    ):
        times = monitoring.model_done(job_id, "classify", request.chat, times, seconds)
        event = ResultEvent(
            job_id=job_id,
            kind="classify",
            chat=request.chat,
            labels=_scored(scores[:TOP_LABELS], request),
            user_labels=request.labels is not None,
            label_count=len(scores) if request.taught else len(label_list),
            question=question,
            model=short_model_name(classifier.name),
            seconds=round(seconds, 3),
            times=times,
        )
        publish(job.connection, event)
        _leave_classify_context(job_id, request, event, job.connection)
        result = {"labels": [label.model_dump() for label in event.labels]}
        with job.connection.pipeline() as pipe:
            pipe.set(answered_key(job_id), json.dumps(result), ex=ANSWERED_TTL)
            pipe.delete(request.image_key)
            pipe.execute()
        record_duration(job.connection, CLASSIFY_QUEUE, seconds)
        own = own or result
    assert own is not None  # the batch's first job is this one
    return own


def _taught(taught: TaughtLabel, classifier: ZeroShotClassifier) -> tuple[str, list[float] | None]:
    """A taught class as ``classifier`` scores it: its photos' mean, or its name only, until the chat teaches it
    again, where the mean means nothing here: a class kept in the old format (a photo-and-text mix the classifier
    no longer reads), or one another classifier made (the operator changed ``MODEL_CLASSIFIER``: another size of
    vector would fail the photo, one of the same size would add a meaningless bonus)."""
    made_elsewhere = taught.model is not None and taught.model != short_model_name(classifier.name)
    if taught.version != TAUGHT_VERSION or made_elsewhere or len(taught.prototype) != classifier.dimensions:
        return taught.name, None
    return taught.name, taught.prototype


def _scored(scores: list[tuple[str, float]], request: ClassifyJob) -> list[ScoredLabel]:
    """The top labels as the result carries them, a chat's taught class (``/teach``) marked as one."""
    taught = {c.name for c in request.taught}
    return [ScoredLabel(label=label, score=score, taught=label in taught) for label, score in scores]


def _claim(connection, job_id: str, claimer: str) -> bool:
    """Take ``job_id`` for scoring by ``claimer``; ``False`` if another batch has it or it was answered.

    A claim left by an earlier attempt of the same job (``claimer == job_id``) is taken over.
    """
    if connection.set(answered_key(job_id), CLAIM_PREFIX + claimer, nx=True, ex=ANSWERED_TTL):
        return True
    return claimer == job_id and connection.get(answered_key(job_id)) == (CLAIM_PREFIX + claimer).encode()


def _answer_of(connection, job_id: str) -> dict | None:
    """The answer another batch gives this job (waiting up to ``CLAIM_WAIT`` while it scores), or ``None``
    when that batch failed or vanished: then the job answers itself (delivery drops a late duplicate)."""
    deadline = time.monotonic() + CLAIM_WAIT
    while time.monotonic() < deadline:
        value = connection.get(answered_key(job_id))
        if value is None:
            return None
        if not value.startswith(CLAIM_PREFIX.encode()):
            return json.loads(value)
        time.sleep(0.05)
    log.warning("job %s: the batch that claimed it did not answer in %.0f s; answering itself", job_id, CLAIM_WAIT)
    return None


def _release_claims(connection, job_ids: list[str]) -> None:
    """A failed batch gives its jobs back (each then runs on its own)."""
    for job_id in job_ids:
        value = connection.get(answered_key(job_id))
        if value is not None and value.startswith(CLAIM_PREFIX.encode()):
            connection.delete(answered_key(job_id))


def _labels_of(request: ClassifyJob) -> tuple[list[str], str | None]:
    """The labels to score a photo against, and the one label asked about (a yes/no question) if so."""
    labels = request.labels or list(default_labels())
    question = labels[0] if len(labels) == 1 else None
    if question:  # one label: is it the photo, rather than any everyday thing?
        labels = [question, *(label for label in default_labels() if label.casefold() != question.casefold())]
    return labels, question


def _waiting_classifications(job: Job, limit: int) -> list[tuple[str, ClassifyJob, Image.Image]]:
    """Up to ``limit`` classification jobs queued behind ``job`` (not answered yet, photo present), peeked at
    without taking them off the queue."""
    if limit <= 0:
        return []
    queue = Queue(CLASSIFY_QUEUE, connection=job.connection, serializer=JSONSerializer)
    waiting = []
    for other in Job.fetch_many(queue.get_job_ids(0, limit * 2), job.connection, serializer=JSONSerializer):
        if other is None or other.id == job.id or other.func_name != CLASSIFY_FUNC:
            continue
        if not _claim(job.connection, other.id, job.id):
            continue  # answered already, or another worker's batch has it
        try:
            request = ClassifyJob.model_validate(other.args[0])
            image = _load_image(job, request.image_key, "photo_gone")
        except (Refusal, ValueError, IndexError, OSError):
            _release_claims(job.connection, [other.id])
            continue  # it will run (and answer, or refuse) on its own
        waiting.append((other.id, request, image))
        if len(waiting) == limit:
            break
    return waiting


def rank(payload: dict) -> dict:
    """Order ``payload``'s photos by similarity to its query (best first) and publish the ranking; photos without
    messages of their own (``RankJob.photo_messages`` empty) have the best one kept for the frontend to show."""
    request = RankJob.model_validate(payload)
    job = current_job()
    times = monitoring.picked_up(job.id, "rank", request.chat, request.times)
    try:
        photos = [_load_image(job, key, "photo_gone") for key in request.image_keys]
    except Refusal as refusal:
        return _publish_refusal(job, request.chat, "rank", refusal)
    classifier = runtime.models().classifier
    started = time.perf_counter()
    similarities = classifier.scores(photos, request.query, runtime.ranker())  # cosine unless a ranker is live
    seconds = time.perf_counter() - started
    times = monitoring.model_done(job.id, "rank", request.chat, times, seconds)
    ranking = sorted(range(len(photos)), key=lambda index: similarities[index], reverse=True)
    shown = [] if request.photo_messages else [request.image_keys[ranking[0]]]  # no message to reply to: show it
    event = ResultEvent(
        job_id=job.id,
        kind="rank",
        chat=request.chat,
        question=request.query,
        ranking=ranking,
        scores=classifier.shares(similarities),
        photo_messages=request.photo_messages,
        image_keys=shown,
        model=short_model_name(classifier.name),
        seconds=round(seconds, 3),
        times=times,
    )
    publish(job.connection, event)
    record_duration(job.connection, CLASSIFY_QUEUE, seconds)
    # the shown photo stays for the frontend, which deletes it once delivered (else it expires with INPUT_TTL)
    job.connection.delete(*(key for key in request.image_keys if key not in shown))
    return {"ranking": ranking, "similarities": similarities}


DESCRIBED_TTL = 30 * 24 * 3600  # a description's prompts, for its buttons: small, kept like a picture's request


def describe(payload: dict) -> dict:
    """``/describe``: turn ``payload``'s photo into a Russian description and ready ``/imagine`` prompts
    (`models.interrogator`), keep them for the buttons that paint them (``described_key``) and publish them."""
    request = DescribeJob.model_validate(payload)
    job = current_job()
    times = monitoring.picked_up(job.id, "describe", request.chat, request.times)
    try:
        photo = _load_image(job, request.image_key, "photo_gone")
    except Refusal as refusal:
        return _publish_refusal(job, request.chat, "describe", refusal)
    interrogator = runtime.interrogator()
    started = time.perf_counter()
    found = interrogator.describe(photo)
    seconds = time.perf_counter() - started
    times = monitoring.model_done(job.id, "describe", request.chat, times, seconds)
    description = Description(subject=found.subject, traits=found.traits, prompts=found.prompts)
    stored = StoredDescription(chat=request.chat, description=description)
    with job.connection.pipeline() as pipe:
        pipe.set(described_key(job.id), stored.model_dump_json(), ex=DESCRIBED_TTL)
        pipe.delete(request.image_key)
        pipe.execute()
    event = ResultEvent(
        job_id=job.id,
        kind="describe",
        chat=request.chat,
        description=description,
        model=short_model_name(interrogator.classifier.name),
        seconds=round(seconds, 3),
        times=times,
    )
    publish(job.connection, event)
    record_duration(job.connection, CLASSIFY_QUEUE, seconds)
    return {"prompts": description.prompts}


def teach(payload: dict) -> dict:
    """Make a chat's taught class (``/teach``) from its photos and name, and publish it for the frontend to store.

    The photos' mean embedding (``models.classifier.few_shot_photo_mean``) is all that is kept: the photos are
    deleted here."""
    request = TeachJob.model_validate(payload)
    job = current_job()
    times = monitoring.picked_up(job.id, "teach", request.chat, request.times)
    try:
        photos = [_load_image(job, key, "photo_gone") for key in request.image_keys]
    except Refusal as refusal:
        job.connection.delete(*request.image_keys)
        return _publish_refusal(job, request.chat, "teach", refusal)
    classifier = runtime.models().classifier
    started = time.perf_counter()
    prototype = classifier.prototype(photos, request.name)
    seconds = time.perf_counter() - started
    times = monitoring.model_done(job.id, "teach", request.chat, times, seconds)
    event = ResultEvent(
        job_id=job.id,
        kind="teach",
        chat=request.chat,
        taught=TaughtPrototype(name=request.name, prototype=prototype, shots=len(photos), version=TAUGHT_VERSION),
        model=short_model_name(classifier.name),
        seconds=round(seconds, 3),
        times=times,
    )
    publish(job.connection, event)
    record_duration(job.connection, CLASSIFY_QUEUE, seconds)
    job.connection.delete(*request.image_keys)
    return {"shots": len(photos), "seconds": event.seconds}


def _load_image(job: Job, key: str, error_key: str) -> Image.Image:
    data = job.connection.get(key)
    if not isinstance(data, bytes):  # None: gone (the worker's connection answers bytes)
        raise Refusal(f"{key} is gone", error_key)
    return Image.open(io.BytesIO(data)).convert("RGB")


def is_out_of_memory(exc: BaseException) -> bool:
    """The job ran out of memory: CUDA's ``OutOfMemoryError``, or the CPU allocator (a CPU-only worker) failing,
    which torch reports as a ``RuntimeError`` and Python code as ``MemoryError``."""
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


def _free_accelerator_memory() -> None:
    """Give the memory of a job that ran out back to the allocator's pool (CUDA), so the next job has it."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _publish_refusal(job: Job, chat: ChatRef, kind: JobKind, refusal: Refusal) -> dict:
    log.warning("job %s refused: %s", job.id, refusal)
    event = ResultEvent(
        job_id=job.id, kind=kind, chat=chat, ok=False, error_key=refusal.error_key, times=_times_without_result(job)
    )
    publish(job.connection, event)
    return {"error": refusal.error_key}


def _times_without_result(job: Job) -> StageTimes:
    """The stage times of a job that ends without a result: the frontend's, and when RQ started it."""
    return _with_run_times(StageTimes.model_validate(job.args[0].get("times") or {}), job)


def _with_run_times(times: StageTimes, job: Job) -> StageTimes:
    """``times`` with when RQ started the job and now as its end (a job that ends without a result)."""
    started = job.started_at
    if started is None:
        return times
    aware = started if started.tzinfo else started.replace(tzinfo=UTC)
    return times.model_copy(update={"picked_up": aware.timestamp(), "model_done": time.time()})


def short_model_name(source: str) -> str:
    """``kandinskylab/Kandinsky-5.0-T2I-Lite`` → ``Kandinsky-5.0-T2I-Lite``; a local dir → its folder name."""
    return source.rstrip("/").rsplit("/", 1)[-1]


def error_reference(job_id: str) -> str:
    """A short id the user can quote and the operator can find in the worker log."""
    return hashlib.blake2s(job_id.encode(), digest_size=4).hexdigest()


def report_failure(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback: once a job has no retries left, tell its chat (the traceback stays in the log).

    It must not fail itself: a payload that does not validate (the likely cause of the failure) still has its
    chat told, when it names one, and a request that does not validate is left out of the event.
    """
    payload = job.args[0] if job.args and isinstance(job.args[0], dict) else {}
    kind = job_kind(job.func_name)
    try:
        chat = ChatRef.model_validate(payload.get("chat"))
    except ValidationError:
        log.error("job %s failed (%s) and names no chat to tell", job.id, exc_type.__name__)
        return
    if job.should_retry:
        fields = {"error": exc_type.__name__, "retries_left": job.retries_left}
        log_job(log, "job_retried", job.id, chat, kind, level=logging.WARNING, **fields)
        return
    ref = error_reference(job.id)
    log.error("job %s failed for good, reference %s: %s", job.id, ref, _loggable(exc_value))
    event = ResultEvent(
        job_id=job.id,
        kind=kind,
        chat=chat,
        ok=False,
        error_ref=ref,
        generation=_valid(GenerateJob, payload) if kind == "imagine" else None,
        times=_with_run_times(_valid(StageTimes, payload.get("times") or {}) or StageTimes(), job),
    )
    publish(connection, event)
    _forget_photo(connection, job.id, payload)


def _valid(model: type[_Model], data: object) -> _Model | None:
    """``data`` as ``model``, or ``None`` when it does not validate."""
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _loggable(exc: BaseException) -> str:
    """An error for the log without the job's input (a ``ValidationError`` quotes prompts and chat ids)."""
    if isinstance(exc, ValidationError):
        return f"{exc.error_count()} validation errors: " + "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors(include_input=False)
        )
    return str(exc)


# --- Feedback (issue #22): what the frontend's feedback store keeps of a result, left next to its images ---------


def _leave_feedback_context(job: Job, request: GenerateJob, images: list[Image.Image]) -> None:
    """The request and the CLIP embeddings of its prompt and pictures (one image-encoder pass with the loaded
    classifier, the model ``--best`` ranks with), for the re-ranker; a failure here costs the feedback, never the
    pictures."""
    try:
        classifier = runtime.models().classifier
        prompt, pictures = classifier.embedding_lists(images, request.prompt)
        context = FeedbackContext(
            kind="imagine",
            chat=request.chat,
            model=short_model_name(runtime.models().generator.name),
            request=request.model_dump(mode="json", exclude={"times", "chat"}),
            prompt_embedding=prompt,
            image_embeddings=pictures,
        )
        store_feedback_context(job.connection, job.id, context)
    except Exception:
        log.exception("job %s: no feedback context (its pictures are served all the same)", job.id)


def _leave_classify_context(job_id: str, request: ClassifyJob, event: ResultEvent, connection) -> None:
    """A classification's answer (the labels shown, best first) for 👍/👎 on it."""
    try:
        answered = [label.model_dump() for label in event.labels]
        request_fields: dict[str, object] = {"labels": request.labels, "answer": answered, "question": event.question}
        context = FeedbackContext(kind="classify", chat=request.chat, model=event.model, request=request_fields)
        store_feedback_context(connection, job_id, context)
    except Exception:
        log.exception("job %s: no feedback context", job_id)
