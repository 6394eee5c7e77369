"""An in-memory platform adapter (like errbot's test backend): handlers run with no network and no Redis."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from core.keys import image_key
from core.protocol import (
    CLASSIFY_QUEUE,
    GENERATE_QUEUE,
    ChatRef,
    ClassifyJob,
    DescribeJob,
    GenerateJob,
    RankJob,
    StoredDescription,
    TeachJob,
)
from handlers.ports import Keyboard, MessageId, Queued, QueuedJob, Stats, TaughtClass


@dataclass
class SentMessage:
    """One message the bot sent into the in-memory chat."""

    message_id: int
    chat: ChatRef
    text: str | None = None
    photo: bytes | None = None
    document: bytes | None = None
    filename: str | None = None
    buttons: Keyboard | None = None
    quiet: bool = False
    edits: list[str] = field(default_factory=list)
    deleted: bool = False

    @property
    def current_text(self) -> str | None:
        """The text as the user sees it now (after edits)."""
        return self.edits[-1] if self.edits else self.text


class MemoryOutbox:
    """Records everything the handlers send."""

    photos_lossless = False  # like Telegram: full-size images also go out as files

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []
        self._ids = itertools.count(1000)

    async def send_text(
        self, chat: ChatRef, text: str, buttons: Keyboard | None = None, *, quiet: bool = False
    ) -> MessageId:
        message = SentMessage(next(self._ids), chat, text=text, buttons=buttons, quiet=quiet)
        self.sent.append(message)
        return message.message_id

    async def edit_text(
        self, chat: ChatRef, message_id: MessageId, text: str, buttons: Keyboard | None = None, *, resend: bool = True
    ) -> bool:
        message = self.by_id(message_id)
        message.edits.append(text)
        message.buttons = buttons
        return True

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str, buttons: Keyboard | None = None) -> MessageId:
        message = SentMessage(next(self._ids), chat, text=caption, photo=photo, buttons=buttons)
        self.sent.append(message)
        return message.message_id

    async def send_document(self, chat: ChatRef, data: bytes, filename: str, caption: str) -> MessageId:
        message = SentMessage(next(self._ids), chat, text=caption, document=data, filename=filename)
        self.sent.append(message)
        return message.message_id

    async def delete_message(self, chat: ChatRef, message_id: MessageId) -> None:
        self.by_id(message_id).deleted = True

    def by_id(self, message_id: MessageId) -> SentMessage:
        return next(m for m in self.sent if m.message_id == int(message_id))

    @property
    def texts(self) -> list[str]:
        """Texts of the visible messages, as they read now."""
        return [m.current_text for m in self.sent if not m.deleted and m.current_text]


class MemoryJobs:
    """A job submitter that keeps jobs in lists, refusing a job id it has seen (like RQ's ``unique=True``)."""

    def __init__(self) -> None:
        self.jobs: dict[str, GenerateJob | ClassifyJob | RankJob | DescribeJob | TeachJob] = {}
        self.descriptions: dict[str, StoredDescription] = {}  # what a worker would keep under described_key
        self.images: dict[str, bytes] = {}
        self.status_messages: dict[str, MessageId] = {}
        self.delivered: set[str] = set()
        self.durations: dict[str, float] = {}
        self.cancelled: set[str] = set()
        self.message_jobs: dict[tuple[str, str, str], str] = {}
        self.outpaintable: set[str] = set()  # jobs whose generator can zoom out and pan (a worker's outpaint_key)

    async def submit_generate(self, job_id: str, job: GenerateJob, photo: bytes | None = None) -> Queued | None:
        if photo is not None and job.photo_key is not None:
            self.images[job.photo_key] = photo
        return self._add(job_id, job)

    async def submit_classify(self, job_id: str, job: ClassifyJob, image: bytes) -> Queued | None:
        self.images[job.image_key] = image
        return self._add(job_id, job)

    async def submit_rank(self, job_id: str, job: RankJob, images: list[bytes]) -> Queued | None:
        self.images.update(zip(job.image_keys, images, strict=True))
        return self._add(job_id, job)

    async def submit_describe(self, job_id: str, job: DescribeJob, image: bytes) -> Queued | None:
        self.images[job.image_key] = image
        return self._add(job_id, job)

    async def load_description(self, job_id: str) -> StoredDescription | None:
        return self.descriptions.get(job_id)

    async def submit_teach(self, job_id: str, job: TeachJob, images: list[bytes]) -> Queued | None:
        self.images.update(zip(job.image_keys, images, strict=True))
        return self._add(job_id, job)

    async def load_generation(self, job_id: str) -> GenerateJob | None:
        job = self.jobs.get(job_id)
        return job if isinstance(job, GenerateJob) else None

    async def remember_message_job(self, chat: ChatRef, message_id: MessageId, job_id: str) -> None:
        self.message_jobs[(chat.platform, str(chat.chat_id), str(message_id))] = job_id

    async def message_job(self, chat: ChatRef, message_id: MessageId) -> str | None:
        return self.message_jobs.get((chat.platform, str(chat.chat_id), str(message_id)))

    async def load_image(self, job_id: str, index: int) -> bytes | None:
        return self.images.get(image_key(job_id, index))

    async def can_outpaint(self, job_id: str) -> bool:
        return job_id in self.outpaintable

    async def user_jobs(self, chat: ChatRef) -> list[QueuedJob]:
        return [
            QueuedJob(
                job_id,
                "imagine" if isinstance(job, GenerateJob) else "classify",
                job.prompt if isinstance(job, GenerateJob) else "",
                position,
                GENERATE_QUEUE if isinstance(job, GenerateJob) else CLASSIFY_QUEUE,
            )
            for position, (job_id, job) in enumerate(self.jobs.items(), 1)
            if str(job.chat.user_id) == str(chat.user_id) and job_id not in self.cancelled
        ]

    async def job_owner(self, job_id: str) -> ChatRef | None:
        job = self.jobs.get(job_id)
        return None if job is None else job.chat

    async def cancel(self, chat: ChatRef, job_id: str) -> bool:
        if job_id in self.cancelled or job_id in self.delivered:
            return False
        self.cancelled.add(job_id)
        return True

    async def stats(self) -> Stats:
        return Stats(len(self.jobs), {"molbert-generate": len(self.jobs)}, 0, 0, dict(self.durations))

    async def typical_seconds(self, queue: str) -> float | None:
        return self.durations.get(queue)

    async def remember_status_message(self, job_id: str, message_id: MessageId) -> bool:
        self.status_messages[job_id] = message_id
        return job_id not in self.delivered

    def _add(self, job_id: str, job: GenerateJob | ClassifyJob | RankJob | DescribeJob | TeachJob) -> Queued | None:
        if job_id in self.jobs:
            return None
        self.jobs[job_id] = job
        queue = GENERATE_QUEUE if isinstance(job, GenerateJob) else CLASSIFY_QUEUE
        return Queued(len(self.jobs), self.durations.get(queue))


class MemoryTaughtClasses:
    """The chats' taught classes (``/teach``) in a dict: :class:`handlers.ports.TaughtClassStore` for unit tests."""

    def __init__(self) -> None:
        self.chats: dict[tuple[str, str], dict[str, TaughtClass]] = {}

    def _of(self, chat: ChatRef) -> dict[str, TaughtClass]:
        return self.chats.setdefault((chat.platform, str(chat.settings_chat_id)), {})

    async def classes(self, chat: ChatRef) -> list[TaughtClass]:
        return sorted(self._of(chat).values(), key=lambda taught: taught.taught_at)

    async def add(self, chat: ChatRef, taught: TaughtClass) -> bool:
        replaced = taught.name.casefold() in self._of(chat)
        self._of(chat)[taught.name.casefold()] = taught
        return replaced

    async def remove(self, chat: ChatRef, name: str) -> bool:
        return self._of(chat).pop(name.casefold(), None) is not None
