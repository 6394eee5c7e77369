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
FAILURE_CALLBACK = "workers.jobs.report_failure"

KEY_PREFIX = "molbert"
RESULT_STREAM_CONSUMER_GROUP = "delivery"

JobKind = Literal["imagine", "classify"]


class ChatRef(BaseModel):
    """Where a request came from and where its answer goes: enough for any frontend to reply."""

    model_config = ConfigDict(frozen=True)

    platform: str = Field(description="frontend name: telegram, discord, console")
    chat_id: int | str
    user_id: int | str
    message_id: int | str | None = Field(None, description="the triggering message, answered as a reply")
    thread_id: int | str | None = Field(None, description="forum topic / thread to stay in")
    lang: str = "ru"


class GenerateJob(BaseModel):
    """Payload of a text-to-image job."""

    chat: ChatRef
    prompt: str
    seed: int
    num_images: int = 1


class ClassifyJob(BaseModel):
    """Payload of a zero-shot classification job; the image waits in Redis under ``image_key``."""

    chat: ChatRef
    image_key: str
    labels: list[str] | None = Field(None, description="the user's own labels; None means the default set")


class ScoredLabel(BaseModel):
    """One label and its probability (0..1)."""

    label: str
    score: float


class ResultEvent(BaseModel):
    """What a worker appends to the result stream of the frontend that owns the chat."""

    job_id: str
    kind: JobKind
    chat: ChatRef
    ok: bool
    error_ref: str | None = Field(None, description="short reference shown to the user when ok is False")
    error_key: str | None = Field(None, description="a texts.py key when the failure is the user's input")
    prompt: str | None = None
    seed: int | None = None
    model: str | None = None
    seconds: float | None = None
    image_keys: list[str] = Field(default_factory=list)
    labels: list[ScoredLabel] = Field(default_factory=list)
    user_labels: bool = False


_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_]")


def job_id_for(chat: ChatRef, kind: JobKind) -> str:
    """Derive a job id from the platform event, so a re-delivered update never makes a second job.

    RQ accepts ``[A-Za-z0-9_-]`` only; a negative group chat id's minus sign becomes ``m``.
    """
    parts = [chat.platform, kind, str(chat.chat_id), str(chat.message_id)]
    return "-".join(_UNSAFE_ID_CHARS.sub("", part.replace("-", "m")) for part in parts)


def result_stream(platform: str) -> str:
    """The Redis stream a frontend reads its results from."""
    return f"{KEY_PREFIX}:results:{platform}"


def image_key(job_id: str, index: int) -> str:
    """Where a worker keeps the ``index``-th result image of a job (PNG bytes, with a TTL)."""
    return f"{KEY_PREFIX}:image:{job_id}:{index}"


def input_key(job_id: str) -> str:
    """Where a frontend keeps the photo a classification job reads (JPEG bytes, with a TTL)."""
    return f"{KEY_PREFIX}:input:{job_id}"


def status_message_key(job_id: str) -> str:
    """Where a frontend remembers the id of the "queued" message it will replace with the result."""
    return f"{KEY_PREFIX}:status-message:{job_id}"


def delivered_key(job_id: str) -> str:
    """Marker that a job's result reached the chat (delivery deduplication)."""
    return f"{KEY_PREFIX}:delivered:{job_id}"
