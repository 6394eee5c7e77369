"""Upscale (⤴ ×2 / ×4 under a single picture, ``--up`` on ``/imagine``): the job a press queues, and showing an
enlarged picture within each platform's limits.

Telegram recompresses photos and takes at most 10 MB and a width plus height of 10,000 px in one: an enlarged
picture goes as a photo preview within those (a JPEG at most ``PREVIEW_SIDE`` px a side, what Telegram shows
anyway) and as the PNG file, or a top-quality JPEG file where the PNG would pass a bot's 50 MB upload limit.
Discord shows attachments as uploaded (its outbox fits a file to the server's limit); the terminal saves the PNG.
"""

from __future__ import annotations

import io

from PIL import Image

from core.keys import image_key
from core.protocol import ChatRef, GenerateJob, ResultEvent
from handlers.buttons import REMIX, REROLL, Action, result_keyboard
from handlers.delivery import render_caption, shortened
from handlers.ports import CAPTION_MAX_CHARS, Button, Keyboard, MessageId, Outbox
from handlers.texts import t

MB = 1024 * 1024
TELEGRAM_PHOTO_BYTES = 10 * MB
TELEGRAM_PHOTO_SIDES = 10_000  # width + height
PREVIEW_SIDE = 2560
PREVIEW_QUALITY = 90
DOCUMENT_BYTES = 50 * MB  # a Telegram bot's upload limit
DOCUMENT_QUALITY = 95


def press_job(original: GenerateJob, chat: ChatRef, action: Action, nsfw_threshold: float | None) -> GenerateJob:
    """The job a ⤴ press queues: the ``action.index``-th stored picture of ``action.job_id``, enlarged
    ``action.factor`` times, on the original's generator queue (its worker has the upscaler)."""
    return original.model_copy(
        update={
            "chat": chat,
            "init_image_key": image_key(action.job_id, action.index),
            "upscale": action.factor,
            "photo_key": None,
            "best_of": None,
            "num_images": 1,
            "nsfw_threshold": nsfw_threshold,
        }
    )


def fitted_photo(image: bytes, outbox: Outbox) -> bytes:
    """``image`` as ``outbox`` can show it as a photo: unchanged where photos are lossless or it fits Telegram's
    photo limits, else a JPEG preview at most ``PREVIEW_SIDE`` px a side."""
    if outbox.photos_lossless or (len(image) <= TELEGRAM_PHOTO_BYTES and sum(_size(image)) <= TELEGRAM_PHOTO_SIDES):
        return image
    with Image.open(io.BytesIO(image)) as picture:
        preview = picture.convert("RGB")
    preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    return _jpeg(preview, PREVIEW_QUALITY)


def fitted_document(image: bytes, stem: str) -> tuple[bytes, str, bool]:
    """The file of a full-size picture: the PNG, or a top-quality JPEG where the PNG passes ``DOCUMENT_BYTES``;
    returns the data, its file name and whether it is the JPEG."""
    if len(image) <= DOCUMENT_BYTES:
        return image, f"{stem}.png", False
    with Image.open(io.BytesIO(image)) as picture:
        return _jpeg(picture.convert("RGB"), DOCUMENT_QUALITY), f"{stem}.jpg", True


async def send_picture(
    chat: ChatRef, image: bytes, caption: str, buttons: Keyboard | None, outbox: Outbox, stem: str
) -> list[MessageId]:
    """A full-size picture: the photo (fitted), and where photos are recompressed (Telegram) the file too; the
    messages sent, the photo first."""
    sent = [await outbox.send_photo(chat, fitted_photo(image, outbox), caption, buttons)]
    if not outbox.photos_lossless:
        data, filename, as_jpeg = fitted_document(image, stem)
        note = "\n" + t("upscaled_document_jpeg", chat.lang, limit=DOCUMENT_BYTES // MB) if as_jpeg else ""
        sent.append(await outbox.send_document(chat, data, filename, caption[: CAPTION_MAX_CHARS - len(note)] + note))
    return sent


async def deliver_upscaled(
    event: ResultEvent, images: list[bytes], status_message_id: MessageId | None, outbox: Outbox
) -> None:
    """An enlarged result. A ⤴ press: the picture with ``×N, the model`` and no buttons (it is not enlarged again).
    ``--up``: the usual caption and a note; one picture comes full size with 🔄 and 🖋, several as the grid with U
    (which sends each full size) — no V, ~ or ⤴ under enlarged pictures."""
    job, chat = event.generation, event.chat
    assert job is not None and event.upscale is not None  # delivery sends only enlarged results here
    note = t("upscaled_note", chat.lang, factor=event.upscale, model=event.upscaler)
    stem = f"molbert-{job.seed}-x{event.upscale}"
    if job.init_image_key:
        prompt = shortened(job.prompt, CAPTION_MAX_CHARS // 2)
        seconds = f"{event.seconds or 0:.1f}"
        factor, model = event.upscale, event.upscaler
        caption = t("upscaled_caption", chat.lang, factor=factor, model=model, seconds=seconds, prompt=prompt)
        await send_picture(chat, images[0], caption, None, outbox, stem)
    elif len(event.image_keys) > 1:
        keyboard = result_keyboard(event.job_id, len(event.image_keys), variations=False)  # several: no ⤴ row
        caption = _with_note(render_caption(event), note)
        await outbox.send_photo(chat, fitted_photo(images[0], outbox), caption, keyboard)
    else:
        again = [[Button("🔄", f"{REROLL}:{event.job_id}"), Button("🖋", f"{REMIX}:{event.job_id}")]]
        await send_picture(chat, images[0], _with_note(render_caption(event), note), again, outbox, stem)
    if status_message_id is not None:
        await outbox.delete_message(chat, status_message_id)


def _with_note(caption: str, note: str) -> str:
    return caption if len(caption) + len(note) + 1 > CAPTION_MAX_CHARS else f"{caption}\n{note}"


def _size(image: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(image)) as picture:
        return picture.size


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality, subsampling=0 if quality >= DOCUMENT_QUALITY else 2)
    return buffer.getvalue()
