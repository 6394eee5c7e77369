"""Few-shot chat classes (``/teach``, ``/classes``, ``/forget_class``): the rules, the job and the answers.

A chat's admins (anyone in a private chat) teach Molbert a class from 1–10 photos: the worker turns them and the
name into a prototype (``models.classifier.ZeroShotClassifier.prototype``), the frontend stores it through
:class:`handlers.ports.TaughtClassStore` when the result arrives (:func:`deliver_taught`), and every later photo of
the chat is scored against the chat's labels and its taught classes together (``ClassifyJob.taught``).

Re-teaching a name **replaces** the class with one made from the new photos only (the answer says so): what a
chat sees is what it last showed, and a replace is also what makes a re-delivered result harmless.

The classes live in the database (``bot.taught_classes.DatabaseTaughtClasses``); while it cannot be reached,
``/teach``, ``/classes`` and ``/forget_class`` say so (:class:`handlers.errors.ClassesUnavailable`) and photos are
classified against the labels alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core.keys import teach_input_key
from core.protocol import MAX_TEACH_PHOTOS, ChatRef, ResultEvent, TaughtLabel, TeachJob
from handlers import images, prompts
from handlers.errors import ClassesUnavailable, UserError
from handlers.ports import TaughtClass, TaughtClassStore, Upload
from handlers.texts import t

log = logging.getLogger(__name__)

MAX_CLASS_NAME_CHARS = 40
MAX_TAUGHT_CLASSES = 20  # per chat: each rides along in every classification job of the chat (≈ 5 KB each)
TAUGHT_VERSION = 2  # the prototype's format the worker makes now (models.classifier.TAUGHT_VERSION)
PROTOTYPE_DECIMALS = 5  # of each stored component: well below what a cosine similarity's percent can show


def class_name(text: str | None) -> str:
    """The class name ``/teach <name>`` gives, cleaned like a label (invisible characters out, white space folded,
    a trailing "?" dropped); :class:`UserError` for an empty or too long one."""
    name = prompts.clean_text(text or "").rstrip("?").strip()
    if not name:
        raise UserError("teach_no_name")
    if len(name) > MAX_CLASS_NAME_CHARS:
        raise UserError("teach_name_too_long", length=len(name), limit=MAX_CLASS_NAME_CHARS)
    return name


def find(classes: list[TaughtClass], name: str) -> TaughtClass | None:
    """The class named ``name`` (casefolded), if the chat has one."""
    return next((taught for taught in classes if taught.name.casefold() == name.casefold()), None)


async def checked_request(
    chat: ChatRef,
    uploads: list[Upload],
    text: str | None,
    is_admin: bool,
    store: TaughtClassStore,
    check_access: Callable[[ChatRef], None],
) -> tuple[str, list[bytes]]:
    """The class name and the photos (downloaded and checked) of a ``/teach`` request, or :class:`UserError` with
    the reason: no access, not an admin, a bad name, no or too many photos, too many classes, a broken photo."""
    check_access(chat)
    if not is_admin:
        raise UserError("teach_admins_only")
    name = class_name(text)
    if not uploads:
        raise UserError("teach_no_photo")
    if len(uploads) > MAX_TEACH_PHOTOS:
        raise UserError("teach_too_many_photos", count=len(uploads), limit=MAX_TEACH_PHOTOS)
    classes = await store.classes(chat)
    if find(classes, name) is None and len(classes) >= MAX_TAUGHT_CLASSES:
        raise UserError("teach_too_many_classes", limit=MAX_TAUGHT_CLASSES)
    for upload in uploads:
        images.check_download_size(upload.size)
    return name, [images.normalize_image(await upload.download()) for upload in uploads]


def teach_job(chat: ChatRef, job_id: str, name: str, count: int) -> TeachJob:
    """The job that turns ``count`` photos (stored under :func:`core.keys.teach_input_key`) into a class."""
    return TeachJob(chat=chat, name=name, image_keys=[teach_input_key(job_id, index) for index in range(count)])


async def taught_labels(store: TaughtClassStore, chat: ChatRef) -> list[TaughtLabel]:
    """The chat's taught classes as a classification job carries them; none while the database is away (the photo
    is still classified, against the labels)."""
    try:
        classes = await store.classes(chat)
    except ClassesUnavailable as away:
        log.warning("taught classes unavailable (%s): a photo is classified without them", away.reason)
        return []
    return [TaughtLabel(name=c.name, prototype=list(c.prototype), version=c.version, model=c.model) for c in classes]


def render_classes(classes: list[TaughtClass], lang: str, platform: str) -> str:
    """``/classes``: each taught class with its photo count, or how to teach one."""
    if not classes:
        return t("classes_none", lang, platform=platform)
    lines = [t("classes_header", lang, count=len(classes), limit=MAX_TAUGHT_CLASSES)]
    lines += [t(_line_key(taught), lang, name=taught.name, count=taught.shots) for taught in classes]
    return "\n".join(lines)


def _line_key(taught: TaughtClass) -> str:
    """A class kept in the old format (before #22's scoring fix) says to teach it again."""
    return "classes_line" if taught.version >= TAUGHT_VERSION else "classes_line_old"


async def move_classes(store: TaughtClassStore, chat: ChatRef, moved: ChatRef) -> None:
    """A chat became ``moved`` (a Telegram group upgraded to a supergroup): its taught classes go along, the ones
    the new chat taught itself (of the same name) kept."""
    for taught in await store.classes(chat):
        if find(await store.classes(moved), taught.name) is None:
            await store.add(moved, taught)


async def forget(store: TaughtClassStore, chat: ChatRef, text: str | None, is_admin: bool) -> str:
    """``/forget_class <name>``: forget one class (admins only in groups); the answer's text key and values."""
    if not is_admin:
        raise UserError("teach_admins_only")
    name = class_name(text)
    if not await store.remove(chat, name):
        raise UserError("forget_class_unknown", name=name)
    return t("forget_class_done", chat.lang, name=name)


async def deliver_taught(event: ResultEvent, store: TaughtClassStore | None) -> str:
    """Store the class a teaching job learned and return the answer («Запомнил: Мурка (3 фото)»).

    Called by the result listener before it answers, so a failed store leaves the event pending for a retry; a
    retry replaces the class with the same one (nothing doubles). The database being away is answered at once:
    the class is not kept, and the chat is asked to teach it again later."""
    taught, lang = event.taught, event.chat.lang
    if taught is None or store is None:
        raise RuntimeError(f"teach result {event.job_id} cannot be stored (no class or no store)")
    prototype = tuple(round(value, PROTOTYPE_DECIMALS) for value in taught.prototype)
    learned = TaughtClass(taught.name, prototype, taught.shots, time.time(), event.model, taught.version)
    try:
        replaced = await store.add(event.chat, learned)
    except ClassesUnavailable as away:  # said at once: retries would go on for minutes, then end in silence
        log.warning("a taught class was not stored: the database is away (%s)", away.reason)
        return t("teach_not_saved", lang, name=taught.name)
    key = "teach_replaced" if replaced else "teach_done"
    return t(key, lang, name=taught.name, count=taught.shots, platform=event.chat.platform)
