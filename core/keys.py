"""Every Redis key Molbert writes, built in one place.

Frontends and workers meet in Redis, so a key's spelling is part of the protocol: keep the names stable (a rename
strands what older processes wrote). All keys start with :data:`KEY_PREFIX`; RQ's own keys (``rq:…``) are RQ's.
"""

from __future__ import annotations

import time

from core.protocol import ChatRef

KEY_PREFIX = "molbert"


def result_stream(platform: str) -> str:
    """The Redis stream a frontend reads its results from."""
    return f"{KEY_PREFIX}:results:{platform}"


def image_key(job_id: str, index: int) -> str:
    """Where a worker keeps the ``index``-th result image of a job (PNG bytes, with a TTL)."""
    return f"{KEY_PREFIX}:image:{job_id}:{index}"


def grid_key(job_id: str) -> str:
    """Where a worker keeps a job's images combined into one grid picture."""
    return f"{KEY_PREFIX}:grid:{job_id}"


def durations_key(queue: str) -> str:
    """Recent job durations on ``queue`` (seconds, newest first), for wait estimates."""
    return f"{KEY_PREFIX}:durations:{queue}"


def cancel_key(job_id: str) -> str:
    """Set while a running job should stop at its next step (``/cancel``)."""
    return f"{KEY_PREFIX}:cancel:{job_id}"


def params_key(job_id: str) -> str:
    """Where a frontend keeps a generation's request, so its buttons can vary or reroll it later."""
    return f"{KEY_PREFIX}:params:{job_id}"


def message_job_key(chat: ChatRef, message_id: int | str) -> str:
    """The generation a message of the bot stands for (its 🖋 prompt), so a reply to that message remixes it."""
    return f"{KEY_PREFIX}:message-job:{chat.platform}:{chat.chat_id}:{message_id}"


def input_key(job_id: str) -> str:
    """Where a frontend keeps the photo a classification job reads (JPEG bytes, with a TTL)."""
    return f"{KEY_PREFIX}:input:{job_id}"


def photo_key(job_id: str) -> str:
    """Where a frontend keeps the photo a picture starts from (``/imagine`` on a photo: JPEG bytes, with a TTL).

    Named by the request's first job: its rerolls (🔄) paint from the same photo.
    """
    return f"{KEY_PREFIX}:photo:{job_id}"


def rank_input_key(job_id: str, index: int) -> str:
    """Where a frontend keeps the ``index``-th photo a ranking job reads (JPEG bytes, with a TTL)."""
    return f"{KEY_PREFIX}:input:{job_id}:{index}"


def status_message_key(job_id: str) -> str:
    """Where a frontend remembers the id of the "queued" message it will replace with the result."""
    return f"{KEY_PREFIX}:status-message:{job_id}"


def delivered_key(job_id: str) -> str:
    """Marker that a job's result reached the chat (delivery deduplication)."""
    return f"{KEY_PREFIX}:delivered:{job_id}"


def answered_key(job_id: str) -> str:
    """A classification job's answer (its JSON result) once given, or ``claimed:<id>`` while being scored."""
    return f"{KEY_PREFIX}:answered:{job_id}"


def active_key(platform: str, user_id: int | str) -> str:
    """The jobs a user has waiting or running (a sorted set: job id → when its slot expires)."""
    return f"{KEY_PREFIX}:active:{platform}:{user_id}"


def rate_key(platform: str, user_id: int | str) -> str:
    """A user's requests of the last minute (a sorted set of timestamps)."""
    return f"{KEY_PREFIX}:rate:{platform}:{user_id}"


def daily_key(platform: str, user_id: int | str, now: float) -> str:
    """A user's request count on the UTC day of ``now``."""
    return f"{KEY_PREFIX}:daily:{platform}:{user_id}:{_utc_day(now)}"


def chat_rate_key(chat: ChatRef) -> str:
    """A chat's requests of the last minute (a sorted set of timestamps)."""
    return f"{KEY_PREFIX}:chat-rate:{chat.platform}:{chat.chat_id}"


def request_admitted_key(request_id: str | None) -> str:
    """The verdict on a request of several jobs, so its later jobs follow the first one's."""
    return f"{KEY_PREFIX}:request-admitted:{request_id or ''}"


def chat_settings_key(chat: ChatRef) -> str:
    """The hash holding ``chat``'s settings (``/settings``)."""
    return f"{KEY_PREFIX}:chat-settings:{chat.platform}:{chat.settings_chat_id}"


def chat_moved_key(chat: ChatRef) -> str:
    """The chat ``chat`` became (a Telegram group upgraded to a supergroup)."""
    return f"{KEY_PREFIX}:chat-moved:{chat.platform}:{chat.chat_id}"


def chat_labels_key(chat: ChatRef) -> str:
    """A chat's own label set for classification (``/labels``)."""
    return f"{KEY_PREFIX}:chat-labels:{chat.platform}:{chat.settings_chat_id}"


def legacy_taught_classes_pattern() -> str:
    """Where chats' taught classes (``/teach``) lived before the database: a hash per chat,
    ``molbert:taught-classes:<platform>:<chat id>``, the casefolded name → the class as JSON. Only read (then
    deleted) by the one-time move into the database (``bot.taught_classes``)."""
    return f"{KEY_PREFIX}:taught-classes:*"


def teach_input_key(job_id: str, index: int) -> str:
    """Where the ``index``-th photo of a teaching job waits for the worker (JPEG bytes, with a TTL)."""
    return f"{KEY_PREFIX}:teach-input:{job_id}:{index}"


def jobs_today_key(now: float | None = None) -> str:
    """The count of jobs enqueued on the UTC day of ``now`` (for ``/stats``)."""
    return f"{KEY_PREFIX}:stats:jobs:{_utc_day(time.time() if now is None else now)}"


def discord_token_key(interaction_id: int | str) -> str:
    """Where the token of a Discord interaction waits (JSON, expiring with the token)."""
    return f"{KEY_PREFIX}:discord:interaction:{interaction_id}"


def discord_original_key(interaction_id: int | str) -> str:
    """Who filled the original response of a Discord interaction: ``claimed``, then its message id."""
    return f"{KEY_PREFIX}:discord:original:{interaction_id}"


def described_key(job_id: str) -> str:
    """Where a worker keeps what ``/describe`` said of a photo (its prompts), for the buttons that paint them."""
    return f"{KEY_PREFIX}:described:{job_id}"


def outpaint_key(job_id: str) -> str:
    """Set, for as long as a job's images, when the generator that painted them can zoom out and pan them (so the
    full-size picture a U press sends gets the 🔍 and arrow buttons only where they work)."""
    return f"{KEY_PREFIX}:outpaint:{job_id}"


def _utc_day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def ranker_key() -> str:
    """What the workers rank with (``core.protocol.RankerStatus`` JSON), for ``/stats``."""
    return f"{KEY_PREFIX}:ranker"


def feedback_context_key(job_id: str) -> str:
    """A result's request and CLIP embeddings (``core.protocol.FeedbackContext``), kept by the worker as long as its
    images, for the feedback store (issue #22)."""
    return f"{KEY_PREFIX}:feedback:{job_id}"
