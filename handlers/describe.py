"""``/describe`` (``/опиши``, #21): a photo → a short Russian description and ready ``/imagine`` lines, each with a
button that paints it.

The worker (``workers.jobs.describe``, on the classification queue where ruCLIP is) finds the words
(`models.interrogator`) and keeps them under ``core.keys.described_key`` for the buttons; this module checks the
photo, renders the answer and turns a press (``d:<job id>:<i>``) into the prompt it paints.
"""

from __future__ import annotations

from core.protocol import Description, ResultEvent, StoredDescription
from handlers import images
from handlers.buttons import DESCRIBE, checked_keyboard
from handlers.errors import UserError
from handlers.ports import Button, Keyboard, MessageId, Outbox, Upload
from handlers.texts import t

MAX_LINES = 4  # /imagine lines (and buttons) an answer offers at most


async def checked_photo(photo: Upload | None) -> bytes:
    """The photo to describe as checked JPEG bytes (downloaded only after its size was accepted);
    :class:`UserError` for none (the command without a photo), a file too large, or one that is not an image."""
    if photo is None:
        raise UserError("describe_no_photo")
    images.check_download_size(photo.size)
    return images.normalize_image(await photo.download())


def keyboard(job_id: str, count: int, lang: str) -> Keyboard:
    """One 🎨 button per ``/imagine`` line, in one row: ``d:<job id>:<i>`` paints line ``i``."""
    buttons = [Button(t("describe_button", lang, number=i + 1), f"{DESCRIBE}:{job_id}:{i}") for i in range(count)]
    return checked_keyboard([buttons] if buttons else [])


def render(event: ResultEvent) -> str:
    """The answer: what the photo looks like, then the numbered ``/imagine`` lines (the buttons' numbers)."""
    described = event.description or Description(subject="")
    lang, platform = event.chat.lang, event.chat.platform
    traits = t("describe_traits", lang, traits=", ".join(described.traits)) if described.traits else ""
    lines = [
        t("describe_line", lang, number=number, command=t("describe_command", lang, platform=platform, prompt=prompt))
        for number, prompt in enumerate(described.prompts[:MAX_LINES], 1)
    ]
    return t("describe_answer", lang, subject=described.subject, traits=traits, lines="\n".join(lines))


async def deliver(event: ResultEvent, status_message_id: MessageId | None, outbox: Outbox) -> None:
    """Show the answer in place of the "queued" message (or as a new reply), with its buttons."""
    prompts = event.description.prompts[:MAX_LINES] if event.description else []
    buttons = keyboard(event.job_id, len(prompts), event.chat.lang) or None
    if status_message_id is None:
        await outbox.send_text(event.chat, render(event), buttons)
    else:
        await outbox.edit_text(event.chat, status_message_id, render(event), buttons)


def prompt_of(stored: StoredDescription | None, index: int) -> str | None:
    """The prompt a press of button ``index`` paints, or ``None`` (forgotten, or no such line)."""
    if stored is None or not 0 <= index < min(MAX_LINES, len(stored.description.prompts)):
        return None
    return stored.description.prompts[index]
