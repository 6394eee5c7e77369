"""What the platform-neutral use cases need from the outside world, as protocols: every port in one place.

A frontend implements :class:`Outbox` for its platform (Telegram, Discord, console, or the in-memory one in
tests); ``bot.queue`` implements :class:`JobSubmitter` with RQ, ``bot.chat_settings`` the
:class:`ChatSettingsStore` and ``bot.limits`` the :class:`Admission` with Redis.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from core.protocol import (
    ChatRef,
    ClassifyJob,
    DescribeJob,
    GenerateJob,
    RankerStatus,
    RankJob,
    StoredDescription,
    TeachJob,
)

if TYPE_CHECKING:  # handlers.chat_settings builds its menu from this module's Button
    from handlers.chat_settings import ChatSettings

MessageId = int | str
ACTION_MAX_BYTES = 64  # Telegram's callback_data limit; Discord's custom_id allows 100
CAPTION_MAX_CHARS = 1024  # the shortest caption every platform takes (Telegram's; Discord takes 2000)


@dataclass(frozen=True)
class Button:
    """A platform-neutral button under a message.

    ``action`` is what comes back when it is pressed (Telegram ``callback_data``, Discord ``custom_id``):
    ``<verb>:<job id>[:<index>]``, at most ``ACTION_MAX_BYTES`` bytes; handlers parse and check it.
    """

    text: str
    action: str


Keyboard = list[list[Button]]


@dataclass(frozen=True)
class QueuedJob:
    """One of a user's jobs in ``/queue``: what it is, where it stands (``position`` None = running now), and the
    queue it is in (for its wait estimate)."""

    job_id: str
    kind: str
    summary: str
    position: int | None
    queue: str


@dataclass(frozen=True)
class Upload:
    """A photo the user sent, not downloaded yet: ``download`` fetches it, ``size`` is what the platform says.

    ``message_id``: the photo's own message (a Telegram album's part), which an answer about it replies to;
    ``None`` when it has none (one of a Discord command's attachments, or of several pictures of one message).
    """

    download: Callable[[], Awaitable[bytes]]
    size: int | None
    message_id: MessageId | None = None


class Outbox(Protocol):
    """Sending into a chat. Every send answers the chat's triggering message (``chat.message_id``)."""

    photos_lossless: bool
    """Whether ``send_photo`` shows the image exactly as sent (Discord, the terminal); Telegram recompresses
    photos, so a full-size image also goes out as a file there."""

    async def send_text(
        self, chat: ChatRef, text: str, buttons: Keyboard | None = None, *, quiet: bool = False
    ) -> MessageId:
        """Send a text reply with optional buttons and return its message id; ``quiet``: without a notification
        (a "queued" status, which the result replaces)."""
        ...

    async def edit_text(
        self, chat: ChatRef, message_id: MessageId, text: str, buttons: Keyboard | None = None, *, resend: bool = True
    ) -> bool:
        """Replace the text of a message the bot sent earlier; afterwards it shows ``buttons`` (none if ``None``).

        Return whether it was edited. A message that is gone or may not be edited is sent anew when ``resend``
        (a result must reach the chat), and is left alone otherwise (progress is not worth a new message).
        """
        ...

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str, buttons: Keyboard | None = None) -> MessageId:
        """Send an image (PNG/JPEG bytes) with a caption and optional buttons as a reply; return its id."""
        ...

    async def send_document(self, chat: ChatRef, data: bytes, filename: str, caption: str) -> MessageId:
        """Send a file (e.g. a full-size PNG, uncompressed) as a reply and return its message id."""
        ...

    async def delete_message(self, chat: ChatRef, message_id: MessageId) -> None:
        """Delete a message the bot sent earlier (missing messages are not an error)."""
        ...


@dataclass(frozen=True)
class Stats:
    """What an operator sees in ``/stats``."""

    jobs_today: int
    waiting: dict[str, int]
    running: int
    workers: int
    typical_seconds: dict[str, float | None]
    ranker: RankerStatus | None = None  # what the workers rank with (issue #22); None: no worker said yet


@dataclass(frozen=True)
class Queued:
    """Where a job just queued stands: its place in the queue, and how long a job there takes lately."""

    position: int
    typical_seconds: float | None  # the median of recent job times on that queue; ``None`` before any has run


class JobSubmitter(Protocol):
    """Queueing jobs. ``submit_*`` say where the job stands, or return ``None`` when the job already exists.

    Implementations raise :class:`handlers.errors.QueueUnavailable` when the queue cannot be reached.
    """

    async def submit_generate(self, job_id: str, job: GenerateJob, photo: bytes | None = None) -> Queued | None:
        """Enqueue a generation job under ``job_id`` unless a job with that id exists; ``photo`` (checked JPEG
        bytes) is stored first under ``job.photo_key``, for a picture painted from it."""
        ...

    async def submit_classify(self, job_id: str, job: ClassifyJob, image: bytes) -> Queued | None:
        """Store ``image`` under ``job.image_key`` and enqueue a classification job unless it exists."""
        ...

    async def submit_rank(self, job_id: str, job: RankJob, images: list[bytes]) -> Queued | None:
        """Store ``images`` under ``job.image_keys`` and enqueue a ranking job unless it exists."""
        ...

    async def submit_teach(self, job_id: str, job: TeachJob, images: list[bytes]) -> Queued | None:
        """Store ``images`` under ``job.image_keys`` and enqueue a teaching job (``/teach``) unless it exists."""
        ...

    async def load_generation(self, job_id: str) -> GenerateJob | None:
        """The request of an earlier generation (kept for its buttons), or ``None`` once expired."""
        ...

    # /describe (#21)
    async def submit_describe(self, job_id: str, job: DescribeJob, image: bytes) -> Queued | None:
        """Store ``image`` under ``job.image_key`` and enqueue a ``/describe`` job (classification queue) unless it
        exists."""
        ...

    async def load_description(self, job_id: str) -> StoredDescription | None:
        """What the ``/describe`` job ``job_id`` said (kept by the worker for its buttons), or ``None`` once
        expired (or never made)."""
        ...

    async def remember_message_job(self, chat: ChatRef, message_id: MessageId, job_id: str) -> None:
        """Remember that a message of the bot in ``chat`` (a 🖋 prompt, a U image) stands for the generation
        ``job_id`` (or one picture of it: ``handlers.remix.picture_target``), as long as its request is kept."""
        ...

    async def message_job(self, chat: ChatRef, message_id: MessageId) -> str | None:
        """The generation a message in ``chat`` stands for (:meth:`remember_message_job`), or ``None``."""
        ...

    async def load_image(self, job_id: str, index: int) -> bytes | None:
        """The ``index``-th image a generation produced (PNG), or ``None`` once expired."""
        ...

    async def user_jobs(self, chat: ChatRef) -> list[QueuedJob]:
        """The jobs ``chat.user_id`` has waiting or running in this chat, oldest first."""
        ...

    async def job_owner(self, job_id: str) -> ChatRef | None:
        """Who queued ``job_id``, and where (the job's chat), while the job is known; ``None`` otherwise."""
        ...

    async def cancel(self, chat: ChatRef, job_id: str) -> bool:
        """Take a waiting job off the queue, or ask a running one to stop at its next step; ``False`` if over."""
        ...

    async def stats(self) -> Stats:
        """Jobs queued today, queue depths, jobs running, workers online and typical job times."""
        ...

    async def typical_seconds(self, queue: str) -> float | None:
        """How long a job on ``queue`` takes lately (median), or ``None`` before any has run."""
        ...

    async def remember_status_message(self, job_id: str, message_id: MessageId) -> bool:
        """Remember the "queued" message so the result can replace it.

        Returns ``False`` when the result was delivered already (a fast worker), so the message is stale.
        """
        ...

    async def can_outpaint(self, job_id: str) -> bool:
        """Whether the generator that painted ``job_id``'s images can zoom out and pan them (the worker said so;
        ``False`` once the images expired, or for a model that cannot)."""
        ...


class ChatSettingsStore(Protocol):
    """What a chat's admins chose for everyone in it: its ``/settings`` and its ``/labels`` set
    (``bot.chat_settings.RedisChatSettings``; ``handlers.chat_settings.MemoryChatSettings`` in tests)."""

    async def load(self, chat: ChatRef) -> ChatSettings:
        """The settings of ``chat`` (the defaults for a chat that never chose any)."""
        ...

    async def save(self, chat: ChatRef, name: str, value: str) -> None:
        """Set one field (a valid choice) of ``chat``'s settings, leaving the others as they are."""
        ...

    async def move(self, chat: ChatRef, new_chat_id: int | str) -> None:
        """``chat`` became ``new_chat_id`` (a Telegram group upgraded to a supergroup): its settings go along (the
        new chat's own choices win), and the move is remembered for :meth:`moved_to`."""
        ...

    async def moved_to(self, chat: ChatRef) -> str | None:
        """The chat that ``chat`` became, if it moved (``None``: it did not, or so long ago it is forgotten)."""
        ...

    async def labels(self, chat: ChatRef) -> list[str] | None:
        """The label set this chat's admins chose for photos (``/labels``), or ``None`` for the default set."""
        ...

    async def set_labels(self, chat: ChatRef, labels: list[str] | None) -> None:
        """Store (or with ``None`` forget) this chat's label set."""
        ...


class Admission(Protocol):
    """Reserving a slot for a job before it is queued, and giving it back if it was not (``bot.limits``)."""

    async def admit(self, chat: ChatRef, job_id: str, queue: str, request_id: str | None = None) -> None:
        """Reserve a slot for ``job_id``; raise :class:`handlers.errors.UserError` when a limit says no.

        ``request_id`` names one user action that makes several jobs (an album's photos): it counts once against
        the limits. Its first job decides; the later ones join it, or raise
        :class:`handlers.limits.RequestRefused`.
        """
        ...

    async def release(self, chat: ChatRef, job_id: str) -> None:
        """Give the slot back (the job was not queued after all)."""
        ...


# Few-shot chat classes (/teach)


@dataclass(frozen=True)
class TaughtClass:
    """A class a chat taught with ``/teach``: its name as the chat wrote it, its prototype (a unit vector in the
    classifier's embedding space, made by the worker), how many photos it was made from, and when (epoch seconds).

    ``version`` says what the prototype is (``core.protocol.TaughtLabel.version``): 2, the photos' mean embedding
    (scored apart from the name's text); 1, a photo-and-text mix from before, which the worker scores by the name
    only until the class is taught again. ``model``: the classifier that made it (short name), when known.
    """

    name: str
    prototype: tuple[float, ...]
    shots: int
    taught_at: float
    model: str | None = None
    version: int = 1


class TaughtClassStore(Protocol):
    """A chat's taught classes, per chat (a Discord thread shares its channel's, as with ``/labels``).

    ``bot.taught_classes.DatabaseTaughtClasses`` keeps them in the database (``core.taught_store``);
    ``tests.memory.MemoryTaughtClasses`` in unit tests. Names compare casefolded. A database that cannot be reached
    raises :class:`handlers.errors.ClassesUnavailable`.
    """

    async def classes(self, chat: ChatRef) -> list[TaughtClass]:
        """The chat's taught classes, oldest first."""
        ...

    async def add(self, chat: ChatRef, taught: TaughtClass) -> bool:
        """Store ``taught``, replacing a class of the same name; return whether one was replaced."""
        ...

    async def remove(self, chat: ChatRef, name: str) -> bool:
        """Forget the class named ``name``; return whether there was one."""


class FeedbackStore(Protocol):
    """Where 👍/👎 and the U/V/🔄 presses under a grid go (``bot.feedback.DatabaseFeedback``, SQLAlchemy;
    ``handlers.feedback.NullFeedback`` when collecting is off). Recording never waits for the database: writes are
    buffered (bounded) and a full buffer drops them with a log line, so a press is answered, and a picture served,
    whatever the database does."""

    def record_vote(self, chat: ChatRef, job_id: str, value: int) -> None:
        """``chat.user_id`` rated the result ``job_id``: ``+1`` 👍, ``-1`` 👎 (replacing their earlier vote)."""
        ...

    def record_choice(self, chat: ChatRef, job_id: str, verb: str, chosen: int | None) -> None:
        """``chat.user_id`` pressed ``verb`` (``u``, ``v``, ``r``; ``s`` ⤴ and ``z`` 🔍 under a U image) under the
        pictures of ``job_id``: picture ``chosen`` won, or (``None``, 🔄) none did."""
        ...

    async def forget(self, chat: ChatRef) -> int:
        """Delete everything kept of ``chat.user_id`` on ``chat.platform`` (``/forget``) and return how many
        records went; :class:`handlers.errors.FeedbackUnavailable` when the database cannot be reached."""
        ...
