"""The use cases: what Molbert does with a chat request, whatever the platform.

Each public coroutine validates the input, answers bad input with a friendly text (and queues nothing),
queues a job, and tells the user their place in the queue.
"""

from __future__ import annotations

import functools
import inspect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from core.keys import image_key, input_key, photo_key, rank_input_key
from core.protocol import (
    CLASSIFY_QUEUE,
    MAX_RANKED_PHOTOS,
    ChatRef,
    ClassifyJob,
    DescribeJob,
    GenerateJob,
    RankJob,
    job_id_for,
)
from core.telemetry import log_job
from handlers import (
    buttons,
    chat_settings,
    delivery,
    feedback,
    images,
    options,
    prompts,
    remix,
    teach,
    telemetry,
    upscale,
    zoom,
)
from handlers import describe as describing
from handlers.access import AccessPolicy
from handlers.chat_settings import ChatSettings, Menu
from handlers.errors import ClassesUnavailable, FeedbackUnavailable, QueueUnavailable, UserError
from handlers.limits import RequestRefused
from handlers.ports import (
    CAPTION_MAX_CHARS,
    Admission,
    ChatSettingsStore,
    FeedbackStore,
    JobSubmitter,
    MessageId,
    Outbox,
    Queued,
    QueuedJob,
    TaughtClassStore,
    Upload,
)
from handlers.ranker_status import ranker_line
from handlers.remix import RemixForm
from handlers.routing import GeneratorRoutes
from handlers.safety import PromptBlocklist
from handlers.texts import t

log = logging.getLogger(__name__)
QUEUE_PROMPT_CHARS = 80  # of each prompt in /queue: enough to tell them apart


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


UseCase = TypeVar("UseCase", bound=Callable[..., Awaitable[Any]])
Checked = TypeVar("Checked")


def answers_when_unavailable(*, as_notice: bool = False) -> Callable[[UseCase], UseCase]:
    """Make a use case end in the "queue unavailable" answer when Redis cannot be reached, instead of silence.

    Redis is read before anything is queued (limits, labels, stored requests, the user's jobs); an error there must
    still tell the user to try again. ``as_notice``: the use case returns a short notice (a button press), which then
    says it; otherwise the text is sent to the use case's ``chat`` through its ``outbox``.
    """

    def decorate(use_case: UseCase) -> UseCase:
        signature = inspect.signature(use_case)

        @functools.wraps(use_case)
        async def answered(*args: Any, **kwargs: Any) -> Any:
            try:
                return await use_case(*args, **kwargs)
            except QueueUnavailable:
                call = signature.bind(*args, **kwargs).arguments
                chat: ChatRef = call["chat"]
                log.exception("Redis unreachable in %s for chat %s:%s", use_case.__name__, chat.platform, chat.chat_id)
                text = t("queue_unavailable", chat.lang)
                if as_notice:
                    return text
                await call["outbox"].send_text(chat, text)
                return None

        return answered  # type: ignore[return-value]

    return decorate


def _photo_messages(uploads: list[Upload]) -> list[int | str]:
    """Each photo's message, to reply to; none unless every photo has one."""
    messages = [upload.message_id for upload in uploads if upload.message_id is not None]
    return messages if len(messages) == len(uploads) else []


def new_seed() -> int:
    """A random seed in the range ``--seed`` accepts."""
    return secrets.randbelow(options.MAX_SEED + 1)


class Molbert:
    """The bot's behaviour, shared by every frontend.

    Every collaborator is required (tests build one with ``tests.factories.make_molbert``): a caller that forgot
    the settings store would otherwise lose ``/settings`` and ``/labels`` silently to a store in memory.
    ``admission`` is ``None`` only where no limits are wanted.
    """

    def __init__(
        self,
        jobs: JobSubmitter,
        *,
        settings: ChatSettingsStore,
        admission: Admission | None,
        blocklist: PromptBlocklist,
        access: AccessPolicy,
        routes: GeneratorRoutes,
        nsfw_threshold: float,
        default_images: int | None = None,
        classes: TaughtClassStore,
        feedback_store: FeedbackStore | None = None,
    ) -> None:
        self.jobs = jobs
        self.default_images = default_images  # the operator's BOT_DEFAULT_IMAGES; None: the worker's generator's
        self.blocklist = blocklist
        self.admission = admission
        self.access = access
        self.routes = routes
        self.settings_store = settings
        self.nsfw_threshold = nsfw_threshold  # the operator's SAFETY_NSFW_THRESHOLD, which /settings scales
        self.repeats = buttons.RepeatedPresses()
        self.classes = classes  # the chats' taught classes (/teach)

        self.feedback = feedback_store or feedback.NullFeedback()  # 👍/👎 and U/V/🔄 presses (handlers/feedback.py)

    async def settings_of(self, chat: ChatRef) -> ChatSettings:
        """The chat's ``/settings`` (the defaults when the store cannot be read: the chat still gets answers)."""
        try:
            return await self.settings_store.load(chat)
        except QueueUnavailable:
            log.exception("could not read the settings of chat %s:%s", chat.platform, chat.chat_id)
            return ChatSettings()

    async def _in_chat(self, chat: ChatRef) -> tuple[ChatRef, ChatSettings]:
        """The chat's settings, and ``chat`` speaking the chat's language when its admins chose one."""
        settings = await self.settings_of(chat)
        lang = settings.language(chat.lang)
        return (chat if lang == chat.lang else chat.model_copy(update={"lang": lang})), settings

    async def _localized(self, chat: ChatRef) -> ChatRef:
        """``chat`` speaking the language its admins chose in ``/settings`` (if they did)."""
        return (await self._in_chat(chat))[0]

    async def start(self, chat: ChatRef, outbox: Outbox, name: str) -> None:
        """Greet the user (``/start``)."""
        chat = await self._localized(chat)
        await outbox.send_text(chat, t("start", chat.lang, name=name))

    async def help(self, chat: ChatRef, outbox: Outbox, text_key: str = "help") -> None:
        """Explain the commands with examples (``/help``); ``text_key`` is the frontend's own help text, if any
        (in the chat's language, like every answer)."""
        chat = await self._localized(chat)
        await outbox.send_text(chat, t(text_key, chat.lang))

    @telemetry.receives
    @answers_when_unavailable()
    async def imagine(
        self,
        chat: ChatRef,
        text: str | None,
        outbox: Outbox,
        fields: Mapping[str, object] | None = None,
        photo: Upload | None = None,
    ) -> str | None:
        """Queue a picture for ``/imagine <prompt> [--options]``; return the job id, or ``None`` if none was queued.

        ``fields``: options given in fields of their own, taken as typed (``options.parse_imagine``). The chat's
        ``/settings`` fill in the style and aspect ratio the request leaves out, and the image check. ``photo``: the
        picture starts from it (image-to-image, ``--strength``), at its aspect ratio unless ``--ar`` is given; it is
        checked like any photo (and downloaded only after the request was accepted) before anything is queued.
        """
        chat, settings = await self._in_chat(chat)
        check = partial(self._imagine_request, chat, text, fields, settings, photo)
        checked = await self._checked(chat, outbox, check)
        if checked is None:
            return None
        request, picture, photo_fields = checked
        seed = request.seed if request.seed is not None else new_seed()
        job_id = job_id_for(chat, "imagine")
        if picture is not None:
            photo_fields["photo_key"] = photo_key(job_id)
        job = options.generation_job(chat, request, seed).model_copy(
            update={"nsfw_threshold": settings.nsfw_threshold(self.nsfw_threshold), **photo_fields}
        )
        job = job.model_copy(update={"enhance_hint": settings.offer_enhance and not job.enhance})  # ✨
        return await self._submit_generate(chat, job_id, job, outbox, picture)

    async def _imagine_request(
        self,
        chat: ChatRef,
        text: str | None,
        fields: Mapping[str, object] | None,
        settings: ChatSettings,
        photo: Upload | None = None,
    ) -> tuple[options.ImagineRequest, bytes | None, dict[str, Any]]:
        """The request ``/imagine`` asks for, with the chat's defaults, its photo (checked JPEG) and the job fields
        painting from it sets; :class:`UserError` for one it may not."""
        self._check_access(chat)
        typed = options.parse_imagine(text, fields)
        request = chat_settings.with_defaults(typed, settings, self.default_images)
        self.routes.check(request.generator)
        if self.blocklist.blocked_word(request.prompt):
            raise UserError("prompt_blocked")
        if photo is None:
            if request.strength is not None:
                raise UserError("option_strength_needs_photo")
            return request, None, {}
        request = replace(request, aspect=typed.aspect)  # the photo's own shape, not the chat's default
        painter = self.routes.for_photo(request.generator)
        rerouted = (request.generator or self.routes.names[0]) if painter != request.generator else None
        images.check_download_size(photo.size)
        picture = images.normalize_image(await photo.download())
        strength = options.DEFAULT_STRENGTH if request.strength is None else request.strength
        return request, picture, {"strength": strength, "generator": painter, "rerouted_from": rerouted}

    @telemetry.receives
    @answers_when_unavailable()
    async def remix(
        self, chat: ChatRef, target: str, text: str | None, outbox: Outbox, event_id: str | None = None
    ) -> str | None:
        """A reply to the result of ``target`` changes that request (``handlers.remix.merge``: «а без шляпы», «добавь
        луну», ``--ar 9:16``, a new description) with the same seed; the new picture's caption shows the merged
        ``/imagine`` line. Returns the new job id, or ``None``.

        ``target`` is what :meth:`remix_target` found: a job id (the whole request is remixed, from the same photo
        if it started from one), or one picture of it (``handlers.remix.picture_target``: its U image), which the
        remix paints from, image-to-image, so that the composition stays.
        Only the requester remixes: someone else's reply (in a group) is a reaction and gets no answer; a frontend
        sends only replies to the bot's results here. ``event_id`` names the platform event when it is not
        ``chat.message_id`` (as for a button press, whose chat names the message it is under).
        """
        chat, settings = await self._in_chat(chat)
        job_id, index = remix.parse_target(target)
        original = await self.jobs.load_generation(job_id)
        if original is None:
            await outbox.send_text(chat, t("remix_stale", chat.lang))
            return None
        if str(original.chat.user_id) != str(chat.user_id) or not await self._asked_here(original.chat, chat):
            log.info("a reply to job %s by someone who did not ask for it: not a remix", job_id)
            return None
        request = await self._checked(chat, outbox, partial(self._remix_request, chat, original, text))
        if request is None:
            return None
        start = await self._remix_start(original, job_id, index, request)
        if start is None:
            await outbox.send_text(chat, t("button_image_gone", chat.lang))
            return None
        job = options.generation_job(chat, request, request.seed if request.seed is not None else original.seed)
        job = job.model_copy(update={"nsfw_threshold": settings.nsfw_threshold(self.nsfw_threshold), **start})
        return await self._submit_generate(chat, job_id_for(chat, "remix", event_id), job, outbox)

    async def _remix_start(
        self, original: GenerateJob, job_id: str, index: int | None, request: options.ImagineRequest
    ) -> dict[str, Any] | None:
        """What a remix paints from, as job fields: picture ``index`` of ``job_id`` (image-to-image, where the
        generator can), else the photo the original started from (kept, as 🔄 keeps it), else nothing (text);
        ``None`` when that picture is gone."""
        if index is not None and self._paints_from_pictures(request.generator):
            if await self.jobs.load_image(job_id, index) is None:
                return None
            strength = options.DEFAULT_STRENGTH if request.strength is None else request.strength
            return {"init_image_key": image_key(job_id, index), "strength": strength, "best_of": None}
        if original.photo_key:
            strength = original.strength if request.strength is None else request.strength
            return {
                "photo_key": original.photo_key,
                "strength": strength,
                "generator": original.generator,
                "rerouted_from": original.rerouted_from,
            }
        return {}

    def _paints_from_pictures(self, generator: str | None) -> bool:
        """Whether the generator a request asks for paints image-to-image (a text-only one is remixed from text)."""
        try:
            return self.routes.for_photo(generator) == generator
        except UserError:  # no generator of this deployment can
            return False

    @answers_when_unavailable(as_notice=True)
    async def remix_form(self, chat: ChatRef, action: str) -> RemixForm | str:
        """🖋 was pressed: the form to change that result (its ``/imagine`` line), or a notice why not (expired,
        someone else's: only the requester remixes). The platform shows it (a modal, a message to reply to)."""
        chat = await self._localized(chat)
        if not self.access.allows(chat):
            return t("access_denied", chat.lang)
        parsed = buttons.parse_action(action)
        original = await self.jobs.load_generation(parsed.job_id) if parsed else None
        if parsed is None or parsed.verb != buttons.REMIX or original is None:
            return t("button_stale", chat.lang)
        if str(original.chat.user_id) != str(chat.user_id):
            return t("button_not_yours" if await self._asked_here(original.chat, chat) else "button_stale", chat.lang)
        return RemixForm.of(parsed.job_id, original)

    async def remix_asked(self, chat: ChatRef, message_id: MessageId, target: str) -> None:
        """A reply to message ``message_id`` remixes ``target`` (:meth:`remix_target`): the platform asked for the
        change in it (Telegram's ForceReply), or it shows one picture alone."""
        try:
            await self.jobs.remember_message_job(chat, message_id, target)
        except QueueUnavailable:  # a reply to the result itself still remixes it
            log.exception("could not remember the remix prompt %s", message_id)

    async def _remix_request(self, chat: ChatRef, original: GenerateJob, text: str | None) -> options.ImagineRequest:
        """The stored request changed by the reply, checked as ``/imagine`` checks one."""
        self._check_access(chat)
        request = remix.merge(remix.request_of(original), text or "")
        self.routes.check(request.generator)
        if self.blocklist.blocked_word(request.prompt):
            raise UserError("prompt_blocked")
        return request

    async def requested(self, chat: ChatRef, target: str) -> bool:
        """Whether ``chat.user_id`` asked for the generation a remix ``target`` names (``True`` when its request is
        forgotten: :meth:`remix` then says so), so that a frontend tells a remix from someone else's reaction."""
        job_id, _ = remix.parse_target(target)
        try:
            original = await self.jobs.load_generation(job_id)
        except QueueUnavailable:  # let the use case answer that the queue is away
            return True
        return original is None or str(original.chat.user_id) == str(chat.user_id)

    async def remix_target(self, chat: ChatRef, replied: MessageId, actions: list[str]) -> str | None:
        """What a reply in ``chat`` to the bot's message ``replied`` remixes (for :meth:`remix`): the picture a U
        image is, the job its 🖋 prompt stands for, or the job its buttons (``actions``) name; ``None`` for any other
        message."""
        try:
            remembered = await self.jobs.message_job(chat, replied)
        except QueueUnavailable:
            log.exception("could not read which job message %s stands for", replied)
            remembered = None
        return remembered or buttons.job_of(actions)

    @telemetry.receives
    @answers_when_unavailable()
    async def classify(
        self,
        chat: ChatRef,
        download: Callable[[], Awaitable[bytes]],
        size: int | None,
        caption: str | None,
        outbox: Outbox,
        request_id: str | None = None,
    ) -> str | None:
        """Queue a zero-shot classification of a photo; labels come from ``caption`` when it has any.

        ``download`` fetches the file and is called only after the size and the labels were accepted.
        ``request_id`` names the user action when it sends several photos (an album): they count as one request
        against the limits, and a refusal is said once.
        """
        chat = await self._localized(chat)
        checked = await self._checked(chat, outbox, partial(self._classify_input, chat, download, size, caption))
        if checked is None:
            return None
        labels, photo = checked
        job_id = job_id_for(chat, "classify")
        taught = await teach.taught_labels(self.classes, chat)
        job = ClassifyJob(chat=chat, image_key=input_key(job_id), labels=labels, taught=taught)
        submission = partial(self.jobs.submit_classify, job_id, job, photo)
        return await self._submit(chat, job_id, submission, outbox, CLASSIFY_QUEUE, request_id)

    async def _classify_input(
        self, chat: ChatRef, download: Callable[[], Awaitable[bytes]], size: int | None, caption: str | None
    ) -> tuple[list[str] | None, bytes]:
        """The labels (the caption's, else the chat's set) and the photo, checked; :class:`UserError` otherwise."""
        self._check_access(chat)
        labels = prompts.parse_labels(caption) or await self.settings_store.labels(chat)
        images.check_download_size(size)
        return labels, images.normalize_image(await download())

    async def album(self, chat: ChatRef, uploads: list[Upload], caption: str | None, outbox: Outbox) -> list[str]:
        """Several photos sent together (a Telegram album); ``chat.message_id`` is the first one's message.

        A caption that is one phrase (``самый смешной мем``) ranks the photos by it. Without a caption, with a
        label list (``кошка, собака``) or a question (``что это?``), each photo is classified on its own, answered
        as a reply to it, exactly as if it had been sent alone. Returns the ids of the jobs queued.
        """
        ranked = not (prompts.is_label_list(caption) or prompts.is_open_question(caption))
        if caption and caption.strip() and len(uploads) >= 2 and ranked:
            job_id = await self.rank(chat, uploads, caption, outbox)
            return [job_id] if job_id else []
        queued, request_id = [], job_id_for(chat, "album")
        for upload in uploads:
            photo_chat = chat.model_copy(update={"message_id": upload.message_id})
            job_id = await self.classify(photo_chat, upload.download, upload.size, caption, outbox, request_id)
            queued += [job_id] if job_id else []
        return queued

    @telemetry.receives
    @answers_when_unavailable()
    async def rank(self, chat: ChatRef, uploads: list[Upload], query: str, outbox: Outbox) -> str | None:
        """Queue a ranking of several photos (an album) by similarity to ``query`` (``самый смешной мем``).

        ``chat.message_id`` is the album's first message, or the command that brought the photos (it names the
        job). Every photo is size-checked first, then downloaded and checked; one bad photo refuses the whole
        request with its reason. Photos without messages of their own (``Upload.message_id`` is ``None``: Discord's
        attachments) get the result with the best photo shown, instead of a reply to its message.
        """
        chat = await self._localized(chat)
        checked = await self._checked(chat, outbox, partial(self._rank_input, chat, uploads, query))
        if checked is None:
            return None
        query, photos = checked
        job_id = job_id_for(chat, "rank")
        job = RankJob(
            chat=chat,
            query=query,
            image_keys=[rank_input_key(job_id, index) for index in range(len(photos))],
            photo_messages=_photo_messages(uploads),
        )
        return await self._submit(
            chat, job_id, partial(self.jobs.submit_rank, job_id, job, photos), outbox, CLASSIFY_QUEUE
        )

    async def _rank_input(self, chat: ChatRef, uploads: list[Upload], query: str) -> tuple[str, list[bytes]]:
        """The cleaned query and the photos, checked and downloaded; :class:`UserError` for a request refused."""
        self._check_access(chat)
        query = prompts.clean_text(query or "")
        if not query:
            raise UserError("rank_no_query")
        if len(query) > prompts.MAX_PROMPT_CHARS:
            raise UserError("prompt_too_long", length=len(query), limit=prompts.MAX_PROMPT_CHARS)
        if not 2 <= len(uploads) <= MAX_RANKED_PHOTOS:
            raise UserError("rank_photo_count", limit=MAX_RANKED_PHOTOS)
        for upload in uploads:
            images.check_download_size(upload.size)
        return query, [images.normalize_image(await upload.download()) for upload in uploads]

    @telemetry.receives
    @answers_when_unavailable(as_notice=True)
    async def press(
        self,
        chat: ChatRef,
        action: str,
        event_id: str,
        outbox: Outbox,
        is_admin: Callable[[], Awaitable[bool]] | None = None,
        answer: Callable[[str], Awaitable[object]] | None = None,
    ) -> str:
        """A button was pressed (U, V, 🔄 under a result; ✖ under a "queued" message); return a short notice for
        the presser (toast / ephemeral reply).

        ``chat.user_id`` is who pressed, ``chat.message_id`` the message the button is under, ``event_id`` the
        platform's id of this press (a re-delivered press makes no second job). ``is_admin`` asks the platform
        whether the presser administers the chat (only when the chat's ``/settings`` let admins press others'
        buttons). Forged or expired actions and
        presses by someone other than the requester are refused with a notice; nothing is queued.
        ``answer``, if given, gets the notice as soon as it is known, before the slow part (sending the full-size
        picture, or queueing a job with its status message, paced by the platform): Telegram wants a press answered
        within seconds. A repeated press of the same button by the same user while the first is being served (or
        just after) gets ``button_repeated`` and does nothing else.
        """
        key = (chat.platform, str(chat.chat_id), str(chat.message_id), str(chat.user_id), action)
        if not self.repeats.start(key):
            notice = t("button_repeated", (await self._localized(chat)).lang)
            if answer is not None:
                await answer(notice)
            return notice
        follow_up = None
        try:
            notice, follow_up = await self._press(chat, action, event_id, outbox, is_admin)
            if answer is not None:
                await answer(notice)
            if follow_up is not None:
                await follow_up()
            return notice
        finally:  # a press that did something holds off repeats a while; a refused one (not yours, stale) does not
            self.repeats.finish(key, linger=follow_up is not None)

    async def _press(
        self, chat: ChatRef, action: str, event_id: str, outbox: Outbox, is_admin: Callable[[], Awaitable[bool]] | None
    ) -> tuple[str, Callable[[], Awaitable[object]] | None]:
        """What a press does: its notice, and the slow part to run after the notice was given (if any).

        Parse the action (and load the request it is under), authorise the presser, then dispatch on the verb.
        """
        chat, settings = await self._in_chat(chat)
        if not self.access.allows(chat):
            return t("access_denied", chat.lang), None
        parsed = buttons.parse_action(action)
        if parsed is not None and parsed.verb == buttons.CANCEL:
            return await self._cancel_press(chat, parsed.job_id, is_admin), None
        if parsed is not None and parsed.verb == buttons.REMIX:  # a platform that asks nothing: replies remix
            return t("remix_prompt_sent", chat.lang), None
        if parsed is not None and parsed.verb == buttons.DESCRIBE:
            return await self._describe_press(chat, settings, parsed, event_id, outbox)
        if parsed is not None and parsed.verb == buttons.FEEDBACK:  # 👍/👎: anyone in the chat, on any result
            return feedback.vote(self.feedback, chat, settings, parsed), None
        original = await self.jobs.load_generation(parsed.job_id) if parsed else None
        if parsed is None or original is None:
            return t("button_stale", chat.lang), None
        refusal = await self._press_refusal(chat, settings, original.chat, is_admin)
        if refusal is not None:
            return t(refusal, chat.lang), None
        return await self._dispatch_press(chat, settings, parsed, original, event_id, outbox)

    async def _press_refusal(
        self, chat: ChatRef, settings: ChatSettings, asked: ChatRef, is_admin: Callable[[], Awaitable[bool]] | None
    ) -> str | None:
        """Why the presser may not use the buttons of a request ``asked`` (a text key), or ``None`` when they may:
        their own request, or someone else's in this chat when its ``/settings`` (or an anonymous admin's request)
        let them."""
        if str(asked.user_id) == str(chat.user_id):
            return None
        if not await self._asked_here(asked, chat):  # a forged press of a job from elsewhere
            return "button_stale"
        if await self._may_press_others(settings, is_admin) or await self._admin_of_the_chats_request(asked, is_admin):
            return None
        return "button_not_yours_admins" if settings.buttons == chat_settings.ADMINS else "button_not_yours"

    async def _dispatch_press(
        self,
        chat: ChatRef,
        settings: ChatSettings,
        parsed: buttons.Action,
        original: GenerateJob,
        event_id: str,
        outbox: Outbox,
    ) -> tuple[str, Callable[[], Awaitable[object]] | None]:
        """An authorised press of 🔄 (a new seed), ✨ (an enhanced description), U (the full-size picture), V (a
        variation of one picture) or 🔍 and the arrows (zoom out of it, pan it); each is recorded as feedback (the
        picture chosen, or none for 🔄; ⤴ and 🔍 under a U image choose its cell of the grid)."""
        feedback.record_press(self.feedback, chat, settings, parsed, original.num_images)
        threshold = {"nsfw_threshold": settings.nsfw_threshold(self.nsfw_threshold)}
        if parsed.verb == buttons.REROLL:
            job = original.model_copy(update={"chat": chat, "seed": new_seed(), **threshold})
            return self._queue_press(chat, job, "reroll", event_id, outbox)
        if parsed.verb == buttons.ENHANCE:  # ✨: the same request and seed, from a richer description
            job = original.model_copy(update={"chat": chat, "enhance": True, "enhance_hint": False, **threshold})
            return self._queue_press(chat, job, "enhance", event_id, outbox)
        image = await self.jobs.load_image(parsed.job_id, parsed.index)
        if image is None:
            return t("button_image_gone", chat.lang), None
        if parsed.verb == buttons.UPSCALE:
            return t("button_sending", chat.lang), partial(self._send_full_size, chat, original, parsed, image, outbox)
        if parsed.verb == buttons.ZOOM:
            return await self._zoom_press(chat, parsed, original, event_id, outbox, threshold["nsfw_threshold"])
        if parsed.verb == buttons.ENLARGE:  # ⤴: enlarged on the original's generator queue
            if original.upscale:
                return t("upscale_again", chat.lang), None
            job = upscale.press_job(original, chat, parsed, settings.nsfw_threshold(self.nsfw_threshold))
            return self._queue_press(chat, job, "up", event_id, outbox)
        strength = {} if parsed.vary_strength is None else {"strength": parsed.vary_strength}  # old V: as it was
        job = original.model_copy(
            update={
                "chat": chat,
                "seed": new_seed(),
                "init_image_key": image_key(parsed.job_id, parsed.index),
                "photo_key": None,  # a variation starts from the picture, not from the photo that one started from
                "best_of": None,
                "outpaint": None,  # a variation of a zoomed-out picture varies it, it does not zoom again
                **strength,
                **threshold,
            }
        )
        return self._queue_press(chat, job, "vary", event_id, outbox)

    # --- /describe (#21): the logic is in handlers/describe.py ---

    @telemetry.receives
    @answers_when_unavailable()
    async def describe(self, chat: ChatRef, photo: Upload | None, outbox: Outbox) -> str | None:
        """``/describe`` (``/опиши``): queue a description of ``photo`` (on the classification queue, where ruCLIP is):
        a short Russian description and 2–4 ready ``/imagine`` lines, each with a 🎨 button that paints it. No photo
        (the command alone), a file too large or not an image is answered plainly and nothing is queued. Returns the
        job id, or ``None``."""
        chat = await self._localized(chat)
        picture = await self._checked(chat, outbox, partial(self._describe_input, chat, photo))
        if picture is None:
            return None
        job_id = job_id_for(chat, "describe")
        job = DescribeJob(chat=chat, image_key=input_key(job_id))
        submission = partial(self.jobs.submit_describe, job_id, job, picture)
        return await self._submit(chat, job_id, submission, outbox, CLASSIFY_QUEUE)

    async def _describe_input(self, chat: ChatRef, photo: Upload | None) -> bytes:
        self._check_access(chat)
        return await describing.checked_photo(photo)

    async def _describe_press(
        self, chat: ChatRef, settings: ChatSettings, parsed: buttons.Action, event_id: str, outbox: Outbox
    ) -> tuple[str, Callable[[], Awaitable[object]] | None]:
        """🎨 under a ``/describe`` answer: paint its line for whoever pressed (in the chat it was asked in), checked
        as the same ``/imagine`` typed by them would be (access, blocklist, the chat's defaults, then the limits)."""
        stored = await self.jobs.load_description(parsed.job_id)
        prompt = describing.prompt_of(stored, parsed.index)
        if stored is None or prompt is None or not await self._asked_here(stored.chat, chat):
            return t("button_stale", chat.lang), None
        try:
            request, _photo, _fields = await self._imagine_request(chat, prompt, None, settings)
        except UserError as err:
            return t(err.key, chat.lang, platform=chat.platform, **err.values), None
        job = options.generation_job(chat, request, request.seed if request.seed is not None else new_seed())
        job = job.model_copy(update={"nsfw_threshold": settings.nsfw_threshold(self.nsfw_threshold)})
        return self._queue_press(chat, job, "dpaint", event_id, outbox)

    async def _zoom_press(
        self,
        chat: ChatRef,
        parsed: buttons.Action,
        original: GenerateJob,
        event_id: str,
        outbox: Outbox,
        nsfw_threshold: float | None,
    ) -> tuple[str, Callable[[], Awaitable[object]] | None]:
        """🔍 or an arrow under a single picture: zoom out of it or pan it, on the original's generator; a model
        that cannot (a forged press under a Kandinsky 5 picture) is answered so and nothing is queued."""
        if not await self.jobs.can_outpaint(parsed.job_id):
            return t("outpaint_unsupported", chat.lang), None
        job = zoom.zoom_job(original, chat, parsed, new_seed(), nsfw_threshold)
        return self._queue_press(chat, job, "zoom", event_id, outbox)

    async def _asked_here(self, asked: ChatRef, pressed: ChatRef) -> bool:
        """Whether a request ``asked`` was made in the chat where its button is ``pressed`` (or in the chat that
        one was before it moved: a Telegram group's pictures stay in it when it becomes a supergroup)."""
        if str(asked.chat_id) == str(pressed.chat_id):
            return True
        return await self.settings_store.moved_to(asked) == str(pressed.chat_id)

    async def chat_moved(self, chat: ChatRef, new_chat_id: int | str) -> None:
        """``chat`` became ``new_chat_id`` (a Telegram group upgraded to a supergroup): its ``/settings`` and
        ``/labels`` go along, and the buttons under its pictures keep working for those who may press them there.
        Results still on their way follow the move in the frontend (it sends them to the new chat). Taught classes
        (``/teach``) go along too."""
        moved = chat.model_copy(update={"chat_id": new_chat_id, "thread_id": None, "parent_ids": ()})
        await self.settings_store.move(chat, new_chat_id)
        labels = await self.settings_store.labels(chat)
        if labels and not await self.settings_store.labels(moved):
            await self.settings_store.set_labels(moved, labels)
        try:
            await teach.move_classes(self.classes, chat, moved)
        except ClassesUnavailable as away:
            log.warning("the taught classes of a moved chat stayed behind: the database is away (%s)", away.reason)
        log.info("chat %s:%s moved to %s; its settings and labels went along", chat.platform, chat.chat_id, new_chat_id)

    async def asked_for(self, chat: ChatRef, action: str) -> bool:
        """Whether ``chat.user_id`` asked for the result that a button with ``action`` is under (``True`` for an
        action that names no job we still know: nothing says otherwise)."""
        parsed = buttons.parse_action(action)
        try:
            owner = await self.jobs.job_owner(parsed.job_id) if parsed else None
        except QueueUnavailable:  # unknown owner: let the use case answer that the queue is away
            return True
        return owner is None or str(owner.user_id) == str(chat.user_id)

    async def _cancel_press(
        self, chat: ChatRef, job_id: str, is_admin: Callable[[], Awaitable[bool]] | None = None
    ) -> str:
        """✖ under a "queued" message: its owner cancels the job (the listener then edits the message to say so);
        a job asked in the chat's own name (an anonymous admin) may be cancelled by any admin."""
        owner = await self.jobs.job_owner(job_id)
        someone_elses = owner is not None and str(owner.user_id) != str(chat.user_id)
        if someone_elses and owner is not None and not await self._admin_of_the_chats_request(owner, is_admin):
            return t("cancel_not_yours", chat.lang)
        if owner is None or not await self.jobs.cancel(chat, job_id):
            return t("cancel_too_late", chat.lang)
        return t("cancel_pressed", chat.lang)

    def _queue_press(
        self, chat: ChatRef, job: GenerateJob, kind: str, event_id: str, outbox: Outbox
    ) -> tuple[str, Callable[[], Awaitable[object]]]:
        job_id = job_id_for(chat, kind, event_id)
        return t("button_accepted", chat.lang), partial(self._submit_generate, chat, job_id, job, outbox)

    async def _submit_generate(
        self, chat: ChatRef, job_id: str, job: GenerateJob, outbox: Outbox, photo: bytes | None = None
    ) -> str | None:
        queue = self.routes.queue_for(job.generator)
        submission = partial(self.jobs.submit_generate, job_id, job)
        if photo is not None:
            submission = partial(self.jobs.submit_generate, job_id, job, photo)
        return await self._submit(chat, job_id, submission, outbox, queue)

    async def _send_full_size(
        self, chat: ChatRef, original: GenerateJob, pressed: buttons.Action, image: bytes, outbox: Outbox
    ) -> None:
        """U: the pressed picture alone, full size (and as a file where photos are recompressed), with the buttons of
        a single picture (⤴, and 🔍 and the arrows where the model can; none under an enlarged one); a reply to it
        remixes that picture (:meth:`remix_target`)."""
        index = pressed.index
        prompt = delivery.shortened(original.prompt, CAPTION_MAX_CHARS // 2)
        caption = t("upscale_caption", chat.lang, number=index + 1, prompt=prompt)
        keyboard = None
        if not original.upscale:
            zoom_too = await self._can_outpaint(pressed.job_id)
            keyboard = buttons.single_picture_keyboard(pressed.job_id, index, zoom_too)
        stem = f"molbert-{original.seed}-{index + 1}"
        for message_id in await upscale.send_picture(chat, image, caption, keyboard, outbox, stem):
            await self.remix_asked(chat, message_id, remix.picture_target(pressed.job_id, index))

    async def _can_outpaint(self, job_id: str) -> bool:
        """Whether the U image gets zoom and pan buttons (none when Redis cannot say: the picture still goes out)."""
        try:
            return await self.jobs.can_outpaint(job_id)
        except QueueUnavailable:
            log.exception("could not read whether job %s can be zoomed out", job_id)
            return False

    @answers_when_unavailable()
    async def queue(self, chat: ChatRef, outbox: Outbox) -> None:
        """``/queue``: the user's jobs in this chat with their places and wait estimates."""
        chat = await self._localized(chat)
        jobs = await self.jobs.user_jobs(chat)
        if not jobs:
            await outbox.send_text(chat, t("queue_empty", chat.lang))
            return
        lines = [t("queue_header", chat.lang)]
        for number, job in enumerate(jobs, 1):
            lines.append(await self._queue_line(chat, number, job))
        await outbox.send_text(chat, "\n".join(lines))

    async def _queue_line(self, chat: ChatRef, number: int, job: QueuedJob) -> str:
        what = (
            t("queue_picture", chat.lang, prompt=delivery.shortened(job.summary, QUEUE_PROMPT_CHARS))
            if job.kind == "imagine"
            else t("queue_photo", chat.lang)
        )
        if job.position is None:
            return t("queue_running", chat.lang, number=number, what=what)
        typical = await self.jobs.typical_seconds(job.queue)
        wait = t("wait_estimate", chat.lang, seconds=max(1, round(typical * job.position))) if typical else ""
        return t("queue_waiting", chat.lang, number=number, what=what, position=job.position) + wait

    async def forget(self, chat: ChatRef, outbox: Outbox) -> None:
        """``/forget`` (``/забудь_меня``): delete what the feedback store keeps of this user on this platform."""
        chat = await self._localized(chat)
        try:
            count = await self.feedback.forget(chat)
        except FeedbackUnavailable:
            log.warning("could not forget a user of %s: the feedback database is away", chat.platform)
            await outbox.send_text(chat, t("forget_failed", chat.lang))
            return
        where = chat.platform.capitalize()  # Telegram, Discord, Console
        await outbox.send_text(chat, t("forget_done", chat.lang, where=where, count=count))

    @answers_when_unavailable()
    async def cancel(self, chat: ChatRef, outbox: Outbox) -> None:
        """``/cancel``: take the user's waiting jobs in this chat off the queue and stop the running one."""
        chat = await self._localized(chat)
        cancelled = [job for job in await self.jobs.user_jobs(chat) if await self.jobs.cancel(chat, job.job_id)]
        key = "cancel_done" if cancelled else "queue_empty"
        await outbox.send_text(chat, t(key, chat.lang, count=len(cancelled)))

    def _check_access(self, chat: ChatRef) -> None:
        """Refuse users and chats the operator's allow/deny lists keep out, before any work is done."""
        if not self.access.allows(chat):
            raise UserError("access_denied")

    @answers_when_unavailable()
    async def labels(self, chat: ChatRef, text: str | None, is_admin: bool, outbox: Outbox) -> None:
        """``/labels``: show this chat's label set for photos; admins set it (``/labels кошка, собака``) or
        reset it to the default set (``/labels -``)."""
        chat = await self._localized(chat)
        text = (text or "").strip()
        if not text:
            current = await self.settings_store.labels(chat)
            key = "labels_current" if current else "labels_default"
            await outbox.send_text(chat, t(key, chat.lang, platform=chat.platform, labels=", ".join(current or [])))
            return
        if not is_admin:
            await outbox.send_text(chat, t("labels_admins_only", chat.lang, platform=chat.platform))
            return
        if text in ("-", "сброс", "reset"):
            await self.settings_store.set_labels(chat, None)
            await outbox.send_text(chat, t("labels_reset", chat.lang))
            return
        labels = await self._checked(chat, outbox, partial(_new_label_set, text))
        if labels is None:
            return
        await self.settings_store.set_labels(chat, labels)
        await outbox.send_text(chat, t("labels_set", chat.lang, count=len(labels), labels=", ".join(labels)))

    # Few-shot chat classes (/teach, /classes, /forget_class): the rules and answers live in handlers/teach.py

    @telemetry.receives
    @answers_when_unavailable()
    async def teach(
        self, chat: ChatRef, uploads: list[Upload], text: str | None, is_admin: bool, outbox: Outbox
    ) -> str | None:
        """``/teach <name>`` with 1–10 photos: queue the job that makes the class (admins only in groups); return
        the job id, or ``None`` when the request was refused (and the user told why) or already queued. The
        result is stored and answered by the result listener (``handlers.teach.deliver_taught``)."""
        chat = await self._localized(chat)
        check = partial(teach.checked_request, chat, uploads, text, is_admin, self.classes, self._check_access)
        checked = await self._checked(chat, outbox, check)
        if checked is None:
            return None
        name, photos = checked
        job_id = job_id_for(chat, "teach")
        job = teach.teach_job(chat, job_id, name, len(photos))
        submission = partial(self.jobs.submit_teach, job_id, job, photos)
        return await self._submit(chat, job_id, submission, outbox, CLASSIFY_QUEUE)

    @answers_when_unavailable()
    async def taught_classes(self, chat: ChatRef, outbox: Outbox) -> None:
        """``/classes``: the chat's taught classes with their photo counts."""
        chat = await self._localized(chat)
        if not self.access.allows(chat):
            await outbox.send_text(chat, t("access_denied", chat.lang))
            return
        classes = await self._checked(chat, outbox, partial(self.classes.classes, chat))
        if classes is not None:
            await outbox.send_text(chat, teach.render_classes(classes, chat.lang, chat.platform))

    @answers_when_unavailable()
    async def forget_class(self, chat: ChatRef, text: str | None, is_admin: bool, outbox: Outbox) -> None:
        """``/forget_class <name>``: forget one taught class (admins only in groups)."""
        chat = await self._localized(chat)
        answer = await self._checked(chat, outbox, partial(self._forget_class, chat, text, is_admin))
        if answer is not None:
            await outbox.send_text(chat, answer)

    async def _forget_class(self, chat: ChatRef, text: str | None, is_admin: bool) -> str:
        self._check_access(chat)
        return await teach.forget(self.classes, chat, text, is_admin)

    @staticmethod
    async def _admin_of_the_chats_request(asked: ChatRef, is_admin: Callable[[], Awaitable[bool]] | None) -> bool:
        """The job was ``asked`` in the chat's own name (a Telegram group's anonymous admin), so every admin of the
        chat may use its buttons; the presser is one."""
        return asked.as_the_chat and is_admin is not None and await is_admin()

    @staticmethod
    async def _may_press_others(settings: ChatSettings, is_admin: Callable[[], Awaitable[bool]] | None) -> bool:
        if settings.buttons == chat_settings.EVERYONE:
            return True
        return settings.buttons == chat_settings.ADMINS and is_admin is not None and await is_admin()

    async def settings(self, chat: ChatRef, is_admin: bool, shown: tuple[str, ...] = chat_settings.ALL_FIELDS) -> Menu:
        """``/settings``: the chat's settings menu (fields ``shown``) for its admins, a polite refusal for others."""
        chat, settings = await self._in_chat(chat)
        if not self.access.allows(chat):
            return Menu(t("access_denied", chat.lang))
        if not is_admin:
            return Menu(t("settings_admins_only", chat.lang, platform=chat.platform))
        return chat_settings.main_menu(settings, chat.lang, shown)

    async def settings_press(
        self, chat: ChatRef, action: str, is_admin: bool, shown: tuple[str, ...] = chat_settings.ALL_FIELDS
    ) -> tuple[str, Menu | None]:
        """A press in the settings menu: a notice for the presser, and the menu to show in place (``None``: keep it).

        Only admins change anything; a forged or outdated action changes nothing either.
        """
        settings = await self.settings_of(chat)
        lang = settings.language(chat.lang)
        parsed = chat_settings.parse_action(action)
        if parsed is None or (parsed.field is not None and parsed.field not in shown):
            return t("settings_stale", lang), None
        if not is_admin or not self.access.allows(chat):
            return t("settings_admins_only", lang, platform=chat.platform), None
        if parsed.field is None:
            return "", chat_settings.main_menu(settings, lang, shown)
        if parsed.value is None:
            return "", chat_settings.field_menu(settings, parsed.field, lang)
        try:
            await self.settings_store.save(chat, parsed.field, parsed.value)
        except QueueUnavailable:
            log.exception("could not save a setting of chat %s:%s", chat.platform, chat.chat_id)
            return t("queue_unavailable", lang), None
        settings = settings.changed(parsed.field, parsed.value)
        lang = settings.language(chat.lang)  # a new language answers in it at once
        return t("settings_saved", lang), chat_settings.main_menu(settings, lang, shown)

    @answers_when_unavailable()
    async def stats(self, chat: ChatRef, outbox: Outbox) -> None:
        """``/stats`` for operators: today's jobs, queue depths, running jobs, workers, typical times."""
        chat = await self._localized(chat)
        if not self.access.is_operator(chat):
            await outbox.send_text(chat, t("operators_only", chat.lang))
            return
        stats = await self.jobs.stats()
        typical = stats.typical_seconds
        text = t(
            "stats",
            chat.lang,
            jobs_today=stats.jobs_today,
            waiting_pictures=sum(stats.waiting.get(queue, 0) for queue in self.routes.all_queues),
            waiting_photos=stats.waiting.get(CLASSIFY_QUEUE, 0),
            running=stats.running,
            workers=stats.workers,
            picture_seconds=_seconds(typical.get(self.routes.queue_for(None))),
            photo_seconds=_seconds(typical.get(CLASSIFY_QUEUE)),
        )
        ranking = ranker_line(stats.ranker, chat.lang)
        await outbox.send_text(chat, text if ranking is None else f"{text}\n{ranking}")

    async def refuse(self, chat: ChatRef, outbox: Outbox, key: str, **values: Any) -> None:
        """Answer input no use case accepts (a PDF, an unknown command) with the text ``key``."""
        chat = await self._localized(chat)
        await outbox.send_text(chat, t(key, chat.lang, **values))

    async def _submit(
        self,
        chat: ChatRef,
        job_id: str,
        submit: Callable[[], Awaitable[Queued | None]],
        outbox: Outbox,
        queue: str,
        request_id: str | None = None,
    ) -> str | None:
        """Check the limits, queue the job, and tell the user their place (or why it was not queued)."""
        if not await self._admitted(chat, job_id, outbox, queue, request_id):
            return None
        try:
            queued = await submit()
        except QueueUnavailable:
            log.exception("could not queue job %s", job_id)
            if self.admission is not None:
                await self.admission.release(chat, job_id)
            await outbox.send_text(chat, t("queue_unavailable", chat.lang))
            return None
        if queued is None:
            log.info("job %s exists already: a re-delivered event, nothing queued", job_id)
            return None
        received = telemetry.received_at()
        waited: dict[str, Any] = {} if received is None else {"enqueue_ms": round((time.time() - received) * 1000, 1)}
        position = queued.position
        log_job(log, "job_enqueued", job_id, chat, queue=queue, position=position, **waited)
        text = t("queued", chat.lang, position=position) if position > 1 else t("queued_next", chat.lang)
        if queued.typical_seconds:
            text += t("wait_estimate", chat.lang, seconds=max(1, round(queued.typical_seconds * position)))
        message_id = await outbox.send_text(chat, text, buttons.cancel_keyboard(job_id, chat.lang), quiet=True)
        if not await self.jobs.remember_status_message(job_id, message_id):
            await outbox.delete_message(chat, message_id)
        return job_id

    async def _admitted(self, chat: ChatRef, job_id: str, outbox: Outbox, queue: str, request_id: str | None) -> bool:
        """Whether the limits let ``job_id`` be queued; the user is told why not (once per request)."""
        if self.admission is None:
            return True
        try:
            await self.admission.admit(chat, job_id, queue, request_id)
        except RequestRefused:
            return False  # the request's first job was refused, and the user told why
        except UserError as err:
            await self._refuse(chat, outbox, err)
            return False
        except QueueUnavailable:
            log.exception("could not check the limits for job %s", job_id)
            await outbox.send_text(chat, t("queue_unavailable", chat.lang))
            return False
        return True

    async def _checked(self, chat: ChatRef, outbox: Outbox, check: Callable[[], Awaitable[Checked]]) -> Checked | None:
        """What ``check`` makes of the user's input, or ``None`` when it refused it (:class:`UserError`): then the
        user is told why and nothing is queued."""
        try:
            return await check()
        except UserError as err:
            await self._refuse(chat, outbox, err)
            return None

    @staticmethod
    async def _refuse(chat: ChatRef, outbox: Outbox, err: UserError) -> None:
        """The one way a refused request is answered: the refusal's text, in the chat's language."""
        await outbox.send_text(chat, t(err.key, chat.lang, platform=chat.platform, **err.values))


async def _new_label_set(text: str) -> list[str]:
    """The label set ``/labels <text>`` sets; :class:`UserError` for fewer than two labels."""
    labels = prompts.parse_labels(text) or []
    if len(labels) < 2:
        raise UserError("labels_need_two")
    return labels
