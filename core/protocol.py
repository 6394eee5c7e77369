"""The contract between frontends and workers: queue names, job functions, payloads and result events.

Everything here crosses Redis as JSON (RQ's JSON serializer; never pickle). Frontends enqueue jobs by dotted
path, so they import no worker code; workers import this module but nothing of the frontends.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GENERATE_QUEUE = "molbert-generate"
CLASSIFY_QUEUE = "molbert-classify"
GENERATE_FUNC = "workers.jobs.generate"
CLASSIFY_FUNC = "workers.jobs.classify"
RANK_FUNC = "workers.jobs.rank"  # runs on CLASSIFY_QUEUE
DESCRIBE_FUNC = "workers.jobs.describe"  # runs on CLASSIFY_QUEUE, where ruCLIP is (/describe)

TEACH_FUNC = "workers.jobs.teach"  # runs on CLASSIFY_QUEUE
FAILURE_CALLBACK = "workers.jobs.report_failure"

RESULT_STREAM_CONSUMER_GROUP = "delivery"

JobKind = Literal["imagine", "classify", "rank", "describe", "teach"]
EventKind = Literal["imagine", "classify", "rank", "progress", "describe", "teach"]
MAX_RANKED_PHOTOS = 10  # a Telegram album holds at most 10

# Zoom out and pan (outpainting one picture): the codes a GenerateJob's ``outpaint`` carries. Zoom out ×1.5 / ×2
# shrinks the picture into the middle of a bigger canvas; a pan grows the canvas on one side (left, right, up, down).
ZOOM_OUT_15, ZOOM_OUT_2 = "o15", "o2"
PAN_LEFT, PAN_RIGHT, PAN_UP, PAN_DOWN = "l", "r", "u", "d"
OutpaintCode = Literal["o15", "o2", "l", "r", "u", "d"]
OUTPAINT_CODES: tuple[str, ...] = (ZOOM_OUT_15, ZOOM_OUT_2, PAN_LEFT, PAN_RIGHT, PAN_UP, PAN_DOWN)


def job_kind(func_name: str | None) -> JobKind:
    """The kind of job an RQ job function runs (``workers.jobs.generate`` → ``imagine``), for logs and metrics."""
    kinds: dict[str | None, JobKind] = {
        GENERATE_FUNC: "imagine",
        RANK_FUNC: "rank",
        DESCRIBE_FUNC: "describe",
        TEACH_FUNC: "teach",
    }
    return kinds.get(func_name, "classify")


class ChatRef(BaseModel):
    """Where a request came from and where its answer goes: enough for any frontend to reply."""

    model_config = ConfigDict(frozen=True)

    platform: str = Field(description="frontend name: telegram, discord, console")
    chat_id: int | str
    user_id: int | str
    message_id: int | str | None = Field(None, description="the triggering message, answered as a reply")
    thread_id: int | str | None = Field(None, description="forum topic / thread to stay in")
    parent_ids: tuple[int | str, ...] = Field(
        (), description="what the chat is part of, innermost first: a Discord thread's channel, then its server"
    )
    as_the_chat: bool = Field(
        False, description="sent in the chat's own name (a Telegram group's anonymous admin): user_id is the chat"
    )
    lang: str = "ru"

    @property
    def settings_chat_id(self) -> int | str:
        """The chat whose ``/settings`` and ``/labels`` apply here: a thread with a parent follows its parent (a
        Discord channel's threads and forum posts share its settings), any other chat has its own."""
        return self.parent_ids[0] if self.thread_id is not None and self.parent_ids else self.chat_id


STAGES = ("received", "enqueued", "picked_up", "model_done", "published", "delivered")


class StageTimes(BaseModel):
    """Wall-clock timestamps (``time.time()``, seconds since the epoch) of the stages of one job's life.

    - ``received``: the frontend got the chat event (the use case started);
    - ``enqueued``: the frontend handed the job to RQ (just before the Redis write);
    - ``picked_up``: a worker started the job (for a micro-batched photo: the batch started);
    - ``model_done``: the model finished (generation with its output check, or scoring);
    - ``published``: the worker appended the result event to the frontend's stream;
    - ``delivered``: the frontend's outbox calls for the result returned (the chat has it).

    The frontend fills the first two (carried in the job payload), the worker the next three (carried in the
    result event), the frontend the last. Wall clocks, because the stages happen in different processes and
    hosts (keep their clocks synchronised); a stage a job never reached, or an older payload, leaves ``None``.
    """

    received: float | None = None
    enqueued: float | None = None
    picked_up: float | None = None
    model_done: float | None = None
    published: float | None = None
    delivered: float | None = None

    def durations_ms(self) -> dict[str, float]:
        """Each stage's duration in ms, named by what it measures, for the stages whose both ends are known.

        ``enqueue_ms`` received→enqueued, ``wait_ms`` enqueued→picked up (the queue), ``model_ms`` picked up→model
        done, ``publish_ms`` model done→published, ``deliver_ms`` published→delivered, ``total_ms``
        received→delivered, and ``overhead_ms``: the total less the queue wait and the model (the system's cost).
        """
        spans = {
            "enqueue_ms": ("received", "enqueued"),
            "wait_ms": ("enqueued", "picked_up"),
            "model_ms": ("picked_up", "model_done"),
            "publish_ms": ("model_done", "published"),
            "deliver_ms": ("published", "delivered"),
            "total_ms": ("received", "delivered"),
        }
        durations = {}
        for name, (start, end) in spans.items():
            began, ended = getattr(self, start), getattr(self, end)
            if began is not None and ended is not None:
                durations[name] = round((ended - began) * 1000, 1)
        if {"total_ms", "wait_ms", "model_ms"} <= durations.keys():
            durations["overhead_ms"] = round(durations["total_ms"] - durations["wait_ms"] - durations["model_ms"], 1)
        return durations


class GenerateJob(BaseModel):
    """Payload of a text-to-image job (and of its variations and rerolls).

    ``prompt``/``negative``/``style`` are what the user typed (for captions and reproduction);
    ``model_prompt``/``model_negative`` are what the model gets (with the style's words).
    """

    chat: ChatRef
    prompt: str
    seed: int
    model_prompt: str | None = None
    negative: str | None = None
    model_negative: str | None = None
    style: str | None = None
    aspect: tuple[int, int] | None = None
    steps: int | None = None
    num_images: int | None = Field(
        None, ge=1, description="pictures to paint; None = the worker's generator's default (jobs.with_count)"
    )
    best_of: int | None = Field(None, description="generate this many, keep the num_images best by CLIP score")
    init_image_key: str | None = Field(None, description="a variation: image-to-image from this stored image")
    strength: float = 0.6
    photo_key: str | None = Field(
        None, description="paint from the user's photo stored here (image-to-image, at strength); rerolls keep it"
    )
    rerouted_from: str | None = Field(
        None, description="the --model asked for, which cannot paint from a photo; generator names the one used"
    )
    nsfw_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="the chat's /settings for the image check; None = the worker's own"
    )
    generator: str | None = Field(None, description="--model: the generator class (its queue); None = the default")
    times: StageTimes = Field(default_factory=StageTimes, description="stage timestamps (optional; observability)")
    outpaint: OutpaintCode | None = Field(
        None, description="zoom out / pan the picture at init_image_key (outpainting): one of OUTPAINT_CODES"
    )
    # --- upscale (⤴ ×2 / ×4, --up) ---
    upscale: int | None = Field(
        None, ge=2, le=4, description="enlarge the pictures this many times; with init_image_key: that one alone (⤴)"
    )
    # ✨ prompt enhancement (models.prompt_writer, workers/enhance.py)
    enhance: bool = Field(False, description="✨: the worker rewrites the prompt into a rich description, then paints")
    enhance_hint: bool = Field(False, description="✨ /settings 'ask': the caption suggests the ✨ button")


class ClassifyJob(BaseModel):
    """Payload of a zero-shot classification job; the image waits in Redis under ``image_key``."""

    chat: ChatRef
    image_key: str
    labels: list[str] | None = Field(None, description="the user's own labels; None means the default set")
    times: StageTimes = Field(default_factory=StageTimes, description="stage timestamps (optional; observability)")
    taught: list[TaughtLabel] = Field(
        default_factory=list, description="the chat's taught classes (/teach), scored with the labels"
    )


class RankJob(BaseModel):
    """Payload of a ranking job: several photos (an album) ordered by similarity to one query.

    ``image_keys[i]`` holds the i-th photo (JPEG), sent as message ``photo_messages[i]``. Without
    ``photo_messages`` (the photos have no messages of their own: a Discord command's attachments) the worker keeps
    the best photo for the frontend, which shows it with the ranking.
    """

    chat: ChatRef
    query: str
    image_keys: list[str] = Field(min_length=2, max_length=MAX_RANKED_PHOTOS)
    photo_messages: list[int | str] = Field(
        default_factory=list, description="each photo's message, to reply to; empty: show the best photo"
    )
    times: StageTimes = Field(default_factory=StageTimes, description="stage timestamps (optional; observability)")


# --- /describe (#21): a photo → a Russian description and ready /imagine prompts ---


class DescribeJob(BaseModel):
    """Payload of a ``/describe`` job: the photo waits in Redis under ``image_key``."""

    chat: ChatRef
    image_key: str
    times: StageTimes = Field(default_factory=StageTimes, description="stage timestamps (optional; observability)")


class Description(BaseModel):
    """What ``/describe`` saw in a photo: its subject, the phrases that describe its look (prompt order), and ready
    ``/imagine`` prompts, the best first (2–4). The worker keeps it with the chat it was asked in (``described_key``)
    for the buttons that paint a prompt."""

    subject: str
    traits: list[str] = Field(default_factory=list)
    prompts: list[str] = Field(default_factory=list)


class StoredDescription(BaseModel):
    """A description kept for its buttons: where it was asked, and what it said."""

    chat: ChatRef
    description: Description


class ScoredLabel(BaseModel):
    """One label and its probability (0..1)."""

    label: str
    score: float
    taught: bool = Field(False, description="a class the chat taught (/teach), scored by its prototype")


class ResultEvent(BaseModel):
    """What a worker appends to the result stream of the frontend that owns the chat.

    ``kind="progress"`` events only update the "queued" message; the others are the job's one result.
    """

    job_id: str
    kind: EventKind
    chat: ChatRef
    ok: bool = True
    error_ref: str | None = Field(None, description="short reference shown to the user when ok is False")
    error_key: str | None = Field(None, description="a texts.py key when the failure is the user's input")
    generation: GenerateJob | None = Field(None, description="the request an imagine result answers")
    model: str | None = None
    seconds: float | None = Field(None, description="time the model took; for progress events, the time left")
    image_keys: list[str] = Field(default_factory=list)
    grid_key: str | None = Field(None, description="the images as one 2×2 grid, when there are several")
    hidden: list[int] = Field(default_factory=list, description="images blurred by the output check")
    variations: bool = Field(True, description="imagine: the model can vary these images (V buttons)")
    negative_ignored: bool = Field(
        False, description="imagine: the model painted without the user's --no (it runs without guidance)"
    )
    labels: list[ScoredLabel] = Field(default_factory=list)
    user_labels: bool = False
    label_count: int = Field(0, description="how many labels the photo was scored against")
    question: str | None = Field(None, description="the one label asked about (a yes/no question); a rank query")
    ranking: list[int] = Field(default_factory=list, description="rank: photo indices, best match first")
    scores: list[float] = Field(default_factory=list, description="rank: each photo's share (0..1), by index")
    photo_messages: list[int | str] = Field(default_factory=list, description="rank: each photo's message")
    progress: float | None = Field(None, description="0..1, for progress events")
    times: StageTimes = Field(default_factory=StageTimes, description="stage timestamps (optional; observability)")
    description: Description | None = Field(None, description="describe: the photo as words and prompts")
    taught: TaughtPrototype | None = Field(None, description="teach: the class learned, for the frontend to store")
    outpainting: bool = Field(False, description="imagine: the model can zoom out and pan these images (🔍 buttons)")

    # --- upscale (⤴ ×2 / ×4, --up) ---
    upscale: int | None = Field(None, description="imagine: the pictures were enlarged this many times; progress: are")
    upscaler: str | None = Field(None, description="imagine: the super-resolution model that enlarged them")
    slow_device: bool = Field(False, description="progress: the worker upscales on the CPU, which takes minutes")
    # ✨ prompt enhancement: ``generation.prompt`` is then the description painted, and this the user's own words
    enhanced_from: str | None = Field(None, description="imagine: the prompt as typed, when a description replaced it")
    enhance_failed: str | None = Field(
        None, description="imagine: why --enhance painted the words as typed (failed, timeout, unusable, blocked, off)"
    )


_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_]")


def job_id_for(chat: ChatRef, kind: str, event_id: int | str | None = None) -> str:
    """Derive a job id from the platform event, so a re-delivered update never makes a second job.

    The event is the chat's triggering message unless ``event_id`` names another (a button press).
    RQ accepts ``[A-Za-z0-9_-]`` only; a negative group chat id's minus sign becomes ``m``.
    """
    event = chat.message_id if event_id is None else event_id
    parts = [chat.platform, kind, str(chat.chat_id), str(event)]
    return "-".join(_UNSAFE_ID_CHARS.sub("", part.replace("-", "m")) for part in parts)


# --- the learned re-ranker (issue #22): what a worker ranks with, for /stats ---------------------------------------


class RankerFigures(BaseModel):
    """One ranker's held-out figures (``models.ranker.ranking_metrics``)."""

    ndcg_at_1: float
    ndcg_at_4: float
    pairwise_accuracy: float


RankerWhy = Literal["none", "weak", "other_clip", "broken"]  # why cosine stays: none saved, too weak, …


class RankerStatus(BaseModel):
    """What a worker ranks ``--best`` candidates and ``/rank`` albums with, published at ``core.keys.ranker_key``
    when it loads a ranker (the last worker to load one wins): ``live`` False means plain cosine, with the newest
    saved ranker (if any) and why it is not used."""

    live: bool
    name: str | None = Field(None, description="ranker-v<N>, the newest saved one; None: none saved")
    reason: str | None = Field(None, description="why cosine stays, for the log: none saved, too weak, …")
    why: RankerWhy | None = Field(None, description="reason's kind")
    clip_model: str | None = None
    preferences: int = 0
    trained_at: str | None = None
    ranker: RankerFigures | None = None
    cosine: RankerFigures | None = None


# Few-shot chat classes (/teach): see handlers/teach.py and workers.jobs.teach

MAX_TEACH_PHOTOS = 10  # a Telegram album holds at most 10


class TaughtLabel(BaseModel):
    """A class a chat taught (``/teach``) as a classification scores it: its name and its prototype, a unit
    vector in the classifier's embedding space (compared to a photo's embedding like a label's text embedding)."""

    name: str
    prototype: list[float]
    version: int = Field(
        1, description="2: the photos' mean embedding, scored apart from the name; 1 (old): a photo+text mix"
    )
    model: str | None = Field(None, description="the classifier that made the prototype (short name), when known")


class TeachJob(BaseModel):
    """Payload of a teaching job: 1–10 photos of one class named ``name``; photo ``i`` waits under
    ``image_keys[i]``. The worker answers with the class's prototype (``ResultEvent.taught``)."""

    chat: ChatRef
    name: str
    image_keys: list[str] = Field(min_length=1, max_length=MAX_TEACH_PHOTOS)
    times: StageTimes = Field(default_factory=StageTimes, description="stage timestamps (optional; observability)")


class TaughtPrototype(TaughtLabel):
    """What a teaching job learned: the prototype, and how many photos it was made from."""

    shots: int


ClassifyJob.model_rebuild()
ResultEvent.model_rebuild()


# --- Feedback (issue #22) ------------------------------------------------------------------------------------------


class FeedbackContext(BaseModel):
    """What a worker leaves next to a result's images (``core.keys.feedback_context_key``, as long as they live) for
    the frontend's feedback store, read when someone first reacts to the result (👍/👎, U, V, 🔄): the request, the
    model, and the CLIP embeddings of the prompt and of each picture (unit length; none for a classification)."""

    kind: JobKind
    chat: ChatRef
    model: str | None = None
    request: dict[str, object] = Field(default_factory=dict, description="prompt and options, or the labels answered")
    prompt_embedding: list[float] | None = None
    image_embeddings: list[list[float]] = Field(default_factory=list)
