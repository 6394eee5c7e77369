"""Turning a worker's result event into what the user sees, whatever the platform."""

from __future__ import annotations

from core.protocol import GenerateJob, ResultEvent, ScoredLabel
from handlers import describe, feedback, teach, zoom
from handlers.buttons import result_keyboard
from handlers.options import command_line
from handlers.ports import CAPTION_MAX_CHARS, Keyboard, MessageId, Outbox, TaughtClassStore
from handlers.texts import t

TOP_LABELS = 5
MIN_TITLE_CHARS = 80  # of a long prompt, at least this much stays in a picture's caption
BAR_WIDTH = 10
UNCERTAIN_BELOW = 0.3
TAUGHT_MARK = " 🎓"  # after a class the chat taught (/teach), so it is told from a label of the same words


def render_labels(event: ResultEvent) -> str:
    """The classification answer: a header and the top labels with percentages and a text bar.

    When the best score is low for the number of labels, the header says so plainly instead of pretending.
    A single label asked about is answered yes or no.
    """
    if event.question:
        return _render_answer(event)
    lang = event.chat.lang
    if is_uncertain(event):
        header = t("classify_uncertain", lang)
    else:
        header = t("classify_header_labels" if event.user_labels else "classify_header", lang)
    lines = [header, *(_label_line(label) for label in event.labels[:TOP_LABELS])]
    return "\n".join(lines)


def is_uncertain(event: ResultEvent) -> bool:
    """The best label scores less than 30 %, or less than 1.5 × an even share of the labels."""
    if not event.labels:
        return True
    even_share = 1 / max(event.label_count, len(event.labels))
    return event.labels[0].score < max(UNCERTAIN_BELOW, 1.5 * even_share)


def _render_answer(event: ResultEvent) -> str:
    """Yes/no for one label: it wins against the everyday categories, or what won instead."""
    best = event.labels[0]
    lang = event.chat.lang
    if best.label == event.question:
        return t("classify_yes", lang, label=event.question, percent=f"{best.score:.0%}")
    return t("classify_no", lang, label=event.question, best=best.label, percent=f"{best.score:.0%}")


def _label_line(label: ScoredLabel) -> str:
    filled = round(label.score * BAR_WIDTH)
    mark = TAUGHT_MARK if label.taught else ""
    return f"{'▰' * filled}{'▱' * (BAR_WIDTH - filled)} {label.score:4.0%} {label.label}{mark}"


def render_ranking(event: ResultEvent) -> str:
    """The ranking answer: the best photo for the query, then every photo best first with its share and a bar
    (on Discord "picture N of M": the pictures are a command's attachments, numbered as given)."""
    lang = event.chat.lang
    platform, count = event.chat.platform, len(event.ranking)
    lines = [t("rank_header", lang, platform=platform, query=event.question, number=event.ranking[0] + 1, count=count)]
    for place, index in enumerate(event.ranking, start=1):
        score = event.scores[index]
        filled = round(score * BAR_WIDTH)
        photo = t("rank_photo", lang, platform=platform, number=index + 1)
        lines.append(f"{place}. {'▰' * filled}{'▱' * (BAR_WIDTH - filled)} {score:4.0%} {photo}")
    return "\n".join(lines)


def render_caption(event: ResultEvent) -> str:
    """The caption of a generated picture: the prompt and the ``/imagine`` line that reproduces it.

    It says when the output check hid some images (first) and when the model did not use the user's ``--no``
    (last: after the line that shows it).

    It fits ``CAPTION_MAX_CHARS``: a long prompt is shortened in the title first; if the ``/imagine`` line alone is
    still too long, the line keeps its options and seed but not the prompt (the title shows how it begins).
    """
    job = event.generation
    if job is None:
        raise ValueError(f"imagine result {event.job_id} carries no request")

    def caption(prompt: str, command: str) -> str:
        text = t(
            "image_caption",
            event.chat.lang,
            prompt=prompt,
            seed=job.seed,
            model=event.model,
            seconds=f"{event.seconds or 0:.1f}",
            command=command,
        )
        if event.hidden:
            hidden = t("images_hidden", event.chat.lang, count=len(event.hidden), total=len(event.image_keys))
            text = f"{hidden}\n{text}"
        if event.negative_ignored:
            text += "\n" + t("negative_ignored", event.chat.lang, platform=event.chat.platform)
        return (
            text + _photo_notes(job, event.chat.lang) + zoom.caption_note(job, event.chat.lang) + enhance_notes(event)
        )

    command = command_line(job)
    if len(full := caption(job.prompt, command)) <= CAPTION_MAX_CHARS:
        return full
    if len(caption("", command)) > CAPTION_MAX_CHARS - MIN_TITLE_CHARS:
        command = command_line(job.model_copy(update={"prompt": "…"}))
    room = max(MIN_TITLE_CHARS, CAPTION_MAX_CHARS - len(caption("", command)))
    return caption(shortened(job.prompt, room), command)


def enhance_notes(event: ResultEvent) -> str:
    """✨: the words the description was written from, or why the picture was painted from the words as typed, or
    (``/settings`` "ask") a hint at the ✨ button."""
    lang, job = event.chat.lang, event.generation
    if event.enhanced_from:
        return "\n" + t("enhanced_from", lang, prompt=shortened(event.enhanced_from, MIN_TITLE_CHARS))
    if event.enhance_failed:
        return "\n" + t("enhance_fallback", lang, why=t(f"enhance_why_{event.enhance_failed}", lang))
    return "\n" + t("enhance_hint", lang) if job is not None and job.enhance_hint else ""


def enhanced_in_full(event: ResultEvent) -> str | None:
    """A short extra message with the enhanced description's whole ``/imagine`` line, when the caption had to
    shorten it (the user copies the description from it); ``None`` when the caption shows it whole."""
    job = event.generation
    if not event.enhanced_from or job is None or command_line(job) in render_caption(event):
        return None
    return t("enhanced_full", event.chat.lang, command=command_line(job))


def _photo_notes(job: GenerateJob, lang: str) -> str:
    """For a picture that started from a photo: that it did and at what strength (so 🔄 keeping the photo is no
    surprise), and which generator painted it when the one asked for paints from text only."""
    if not job.photo_key:
        return ""
    notes = "\n" + t("imagine_from_photo", lang, strength=f"{job.strength:g}")
    if job.rerouted_from:
        notes += "\n" + t("imagine_rerouted", lang, asked=job.rerouted_from, used=job.generator)
    return notes


def shortened(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with "…" where it was cut (not at a word: a prompt may have no spaces)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_progress(event: ResultEvent) -> str:
    """The "queued" message while the picture is being painted (or enlarged: on a CPU worker, a note that it takes
    a while)."""
    percent = round((event.progress or 0) * 100)
    if event.upscale:
        text = t("progress_upscaling", event.chat.lang, factor=event.upscale, percent=percent)
        if event.slow_device:
            text += t("progress_upscaling_cpu", event.chat.lang)
        return text
    text = t("progress", event.chat.lang, percent=percent)
    if event.seconds:
        text += t("time_left", event.chat.lang, seconds=max(1, round(event.seconds)))
    return text


async def deliver_result(
    event: ResultEvent,
    images: list[bytes],
    status_message_id: MessageId | None,
    outbox: Outbox,
    classes: TaughtClassStore | None = None,
) -> None:
    """Show a finished job in its chat, replacing the "queued" status message.

    Texts (classification, errors) are edited into the status message; a picture (``images``: the grid, or the
    one image) is sent as a reply to the user's message with its buttons, and the status message is deleted; so is
    it after a ranking (``images``: the best photo, when the photos have no messages to reply to). A taught class
    (``/teach``) is stored in ``classes`` before it is answered.
    """
    chat = event.chat
    if not event.ok:
        key = event.error_key or "job_failed"
        await _replace_status(event, t(key, chat.lang, ref=event.error_ref), status_message_id, outbox)
    elif event.kind == "classify":
        await _replace_status(
            event, render_labels(event), status_message_id, outbox, feedback.result_buttons(None, event.job_id)
        )
    elif event.kind == "describe":
        await describe.deliver(event, status_message_id, outbox)
    elif event.kind == "teach":
        await _replace_status(event, await teach.deliver_taught(event, classes), status_message_id, outbox)
    elif event.kind == "rank":
        await _deliver_ranking(event, images, outbox)
        if status_message_id is not None:
            await outbox.delete_message(chat, status_message_id)
    elif event.upscale:
        from handlers.upscale import deliver_upscaled  # it builds on this module's captions

        await deliver_upscaled(event, images, status_message_id, outbox)
    else:
        enhance = not event.enhanced_from  # ✨ under a picture painted from the words as typed
        keyboard = result_keyboard(
            event.job_id, len(event.image_keys), event.variations, zoom=event.outpainting, enhance=enhance
        )
        await outbox.send_photo(chat, images[0], render_caption(event), feedback.result_buttons(keyboard, event.job_id))
        if (in_full := enhanced_in_full(event)) is not None:
            await outbox.send_text(chat, in_full)
        if status_message_id is not None:
            await outbox.delete_message(chat, status_message_id)


async def _deliver_ranking(event: ResultEvent, images: list[bytes], outbox: Outbox) -> None:
    """A reply to the winning photo's message (a Telegram album); photos without messages of their own (Discord's
    attachments) get the winning photo itself with the ranking, or the ranking alone once that photo expired."""
    chat = event.chat
    if event.photo_messages:
        winner = chat.model_copy(update={"message_id": event.photo_messages[event.ranking[0]]})
        await outbox.send_text(winner, render_ranking(event))
    elif images:
        await outbox.send_photo(chat, images[0], render_ranking(event))
    else:
        await outbox.send_text(chat, render_ranking(event))


async def _replace_status(
    event: ResultEvent, text: str, status_message_id: MessageId | None, outbox: Outbox, keyboard: Keyboard | None = None
) -> None:
    if status_message_id is None:
        await outbox.send_text(event.chat, text, keyboard)
    else:
        await outbox.edit_text(event.chat, status_message_id, text, keyboard)
