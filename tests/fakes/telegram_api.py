"""An in-process fake of the Telegram Bot API, for testing the bot through the real aiogram client.

The bot under test is pointed at :attr:`FakeTelegramAPI.base_url` (``TelegramAPIServer.from_base``) and talks
HTTP to it exactly as to Telegram. The test plays the users (:meth:`FakeTelegramAPI.send_text`, ``send_photo``,
``send_document``, ``press_button``), which queues updates for ``getUpdates``, then inspects or awaits what the
bot sent::

    async with FakeTelegramAPI() as fake:
        alice = fake.user(1001, "Алиса")
        asked = fake.send_text(alice["id"], alice, "/imagine кот в сапогах")
        picture = await fake.wait_for_photo(alice["id"], after=asked["message_id"])

Telegram's rules that bots trip over are enforced (empty or too long texts, bad HTML, unknown messages to edit or
reply to, edits that change nothing, callback_data over 64 bytes, invalid command names, concurrent getUpdates).
Deliberate simplifications: photos keep the exact bytes sent (Telegram re-encodes them as JPEG), and only the
HTML ``parse_mode`` is parsed (validated, tags stripped); Markdown texts are stored as sent.
"""

from __future__ import annotations

import asyncio
import copy
import html
import io
import itertools
import json
import mimetypes
import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
from aiohttp import web
from PIL import Image

DEFAULT_TOKEN = "123456789:AAFake-Token_For-Molbert-Tests-0123456789"
BOT_USERNAME = "molbert_test_bot"
BOT_NAME = "Мольберт"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_REQUEST_BYTES = 60 * 1024 * 1024
MAX_POLL_SECONDS = 50
THUMBNAIL_SIDES = (90, 320, 800)

_JSON_FIELDS = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "commands",
        "entities",
        "link_preview_options",
        "media",
        "reply_markup",
        "reply_parameters",
        "scope",
    }
)
_INT_FIELDS = frozenset(
    {
        "cache_time",
        "chat_id",
        "limit",
        "message_id",
        "message_thread_id",
        "offset",
        "reply_to_message_id",
        "timeout",
        "user_id",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "allow_sending_without_reply",
        "disable_notification",
        "drop_pending_updates",
        "has_spoiler",
        "protect_content",
        "show_alert",
        "show_caption_above_media",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "code",
        "del",
        "em",
        "i",
        "ins",
        "pre",
        "s",
        "span",
        "strike",
        "strong",
        "tg-emoji",
        "tg-spoiler",
        "u",
    }
)
_INT_RE = re.compile(r"-?\d+")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_HTML_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?>")

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
_SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
REGISTERED_SECRET: Any = object()  # post_update's default: the secret_token given to setWebhook
_FAILURE_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: _CONFLICT,
    500: "Internal Server Error",
    502: "Bad Gateway",
}

Params = dict[str, Any]
Handler = Callable[[Params], Awaitable[Any]]
T = TypeVar("T")

# the account Telegram shows as the sender of a group's anonymous admins (their messages carry sender_chat)
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


class ApiError(Exception):
    """A failed Bot API call, answered the way Telegram answers it."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        """The Telegram-shaped JSON error response."""
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.status)


def bad_request(reason: str) -> ApiError:
    """A 400 error with Telegram's ``Bad Request: <reason>`` description."""
    return ApiError(400, f"Bad Request: {reason}")


@dataclass
class UploadedFile:
    """A file part of a multipart request, as it appears in the params of :attr:`FakeTelegramAPI.calls`."""

    filename: str
    data: bytes
    content_type: str


@dataclass
class StoredFile:
    """A file the fake holds: what ``getFile`` describes and ``/file/bot<token>/<file_path>`` serves."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes

    def ref(self) -> dict[str, Any]:
        """The file_id, file_unique_id and file_size fields of PhotoSize, Document and File objects."""
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": len(self.data)}


@dataclass
class SentMessage:
    """A message the bot sent, kept up to date with its edits and deletion.

    ``text``/``caption`` are what the user sees (HTML tags stripped); ``history`` holds every version of the
    text or caption, oldest first; ``photo``/``document`` are the exact bytes the bot uploaded.
    """

    chat_id: int
    message_id: int
    method: str
    text: str | None = None
    caption: str | None = None
    photo: bytes | None = None
    document: bytes | None = None
    file_name: str | None = None
    mime_type: str | None = None
    parse_mode: str | None = None
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None
    media_group_id: str | None = None
    reply_markup: dict[str, Any] | None = None
    history: list[str] = field(default_factory=list)
    deleted: bool = False

    @property
    def content(self) -> str:
        """The current text, else the current caption, else ""."""
        return self.text if self.text is not None else self.caption or ""

    def ever_contained(self, fragment: str) -> bool:
        """Whether ``fragment`` is in the text/caption now or was in it before some edit."""
        return any(fragment in version for version in self.history)

    def describe(self) -> str:
        """A one-line summary for failure reports."""
        parts = [f"chat {self.chat_id} #{self.message_id} {self.method}"]
        if self.reply_to_message_id is not None:
            parts.append(f"reply to #{self.reply_to_message_id}")
        if self.photo is not None:
            parts.append(f"photo of {len(self.photo)} bytes")
        if self.document is not None:
            parts.append(f"document {self.file_name!r} of {len(self.document)} bytes")
        if self.history:
            parts.append(" -> ".join(repr(version) for version in self.history))
        if self.deleted:
            parts.append("DELETED")
        return ", ".join(parts)


class FakeTelegramAPI:
    """A fake Telegram Bot API server on 127.0.0.1, plus the simulated users and chats the test acts through.

    Use ``async with FakeTelegramAPI() as fake:`` or ``await fake.start()`` / ``await fake.stop()``.
    Public state: ``calls`` (every authorised request in order, as ``(method, params)``; ``call_times`` holds when
    each arrived, by ``time.monotonic()``, and :meth:`timed_calls_to` pairs them up), ``updates`` (every
    update ever queued), ``commands`` (``setMyCommands`` lists keyed by ``(scope key, language_code)``, see
    :func:`scope_key`) and ``bot_user``.
    """

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = BOT_USERNAME, bot_name: str = BOT_NAME):
        self.token = token
        bot_id = int(token.split(":", 1)[0])
        self.bot_user = {"id": bot_id, "is_bot": True, "first_name": bot_name, "username": bot_username}
        self.base_url = ""
        self.calls: list[tuple[str, Params]] = []
        self.call_times: list[float] = []
        self.updates: list[dict[str, Any]] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook: Params | None = None  # the last setWebhook's parameters, until deleteWebhook
        self._pending: list[dict[str, Any]] = []
        self._sent: list[SentMessage] = []
        self._sent_by_key: dict[tuple[int, int], SentMessage] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self.admins: set[tuple[int, int]] = set()  # (chat id, user id) pairs getChatMember reports as administrator
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._unanswered_queries: set[str] = set()
        self._failures: defaultdict[str, deque[tuple[int, int, str | None]]] = defaultdict(deque)
        self._upgraded: dict[int, int] = {}  # group id → the supergroup it became
        self._drops: defaultdict[str, deque[bool]] = defaultdict(deque)
        self._update_ids = itertools.count(100_000_001)
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._file_numbers = itertools.count(1)
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._media_group_ids = itertools.count(13_000_000_000_000_001)
        self._poll_generation = 0
        self._closing = False
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._methods = self._method_table()

    # ----------------------------------------------------------------- lifecycle

    async def start(self, port: int = 0) -> Self:
        """Start serving on ``port`` of 127.0.0.1 (0: a random free one) and set :attr:`base_url` (also after a
        stop). A fixed port lets a test point the bot at a Telegram that comes up later."""
        self._closing = False
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        """Answer pending long polls with no updates and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._notify()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- the simulated world

    def user(
        self, user_id: int, first_name: str, language_code: str | None = "ru", username: str | None = None
    ) -> dict[str, Any]:
        """A user who has started the bot (so the bot may write to them): returns their Telegram User object."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code is not None:
            user["language_code"] = language_code
        if username is not None:
            user["username"] = username
        self._users[user_id] = user
        self._chats[user_id] = _private_chat(user)
        return user

    def send_text(
        self,
        chat_id: int,
        user: dict[str, Any],
        text: str,
        reply_to_message_id: int | None = None,
        chat_type: str = "private",
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        """The user sends ``text`` (a leading /command gets its bot_command entity); returns the Message."""
        content = _user_text_fields("text", text)
        return self._user_message(chat_id, user, content, reply_to_message_id, chat_type, message_thread_id)

    def send_sticker(self, chat_id: int, user: dict[str, Any], emoji: str = "😺") -> dict[str, Any]:
        """The user sends a sticker (no text, no photo); returns the Message."""
        sticker = {
            "file_id": f"sticker-{next(self._file_numbers)}",
            "file_unique_id": f"sticker-u-{next(self._file_numbers)}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._user_message(chat_id, user, {"sticker": sticker}, None, "private", None)

    def send_text_as_the_group(self, chat_id: int, text: str, chat_type: str = "supergroup") -> dict[str, Any]:
        """An anonymous admin writes ``text`` in the group's own name: as on Telegram, ``from`` is the shared
        GroupAnonymousBot account and ``sender_chat`` the group itself. Returns the Message."""
        group = self._user_chat(chat_id, ANONYMOUS_ADMIN, chat_type, None)
        content = _user_text_fields("text", text) | {"sender_chat": group}
        return self._user_message(chat_id, ANONYMOUS_ADMIN, content, None, chat_type, None)

    def send_photo(
        self,
        chat_id: int,
        user: dict[str, Any],
        image_bytes: bytes,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        chat_type: str = "private",
        message_thread_id: int | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """The user sends a photo; returns the Message. Photos sent with one ``media_group_id`` form an album
        (Telegram delivers its parts as separate updates; only one part usually carries the caption).

        ``photo`` lists PhotoSizes like Telegram's: JPEG thumbnails (90/320/800 px, those smaller than the image),
        then the original, whose file serves exactly ``image_bytes``. Raises ValueError if they are not an image.
        """
        try:
            sizes = self._store_photo(image_bytes)
        except OSError as error:
            raise ValueError("send_photo needs image bytes; send other data with send_document") from error
        content = {"photo": sizes, **_user_text_fields("caption", caption)}
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._user_message(chat_id, user, content, reply_to_message_id, chat_type, message_thread_id)

    def send_document(
        self,
        chat_id: int,
        user: dict[str, Any],
        data: bytes,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        chat_type: str = "private",
        message_thread_id: int | None = None,
    ) -> dict[str, Any]:
        """The user sends a file as a document; returns the Message (its file serves exactly ``data``)."""
        content = {
            "document": self._store_document(data, file_name, mime_type),
            **_user_text_fields("caption", caption),
        }
        return self._user_message(chat_id, user, content, reply_to_message_id, chat_type, message_thread_id)

    def press_button(self, chat_id: int, user: dict[str, Any], message_id: int, data: str) -> dict[str, Any]:
        """The user presses the inline button with ``callback_data == data``; returns the CallbackQuery."""
        record = self._sent_by_key.get((chat_id, message_id))
        if record is None or record.deleted or data not in _callback_datas(record.reply_markup):
            raise AssertionError(f"chat {chat_id} has no bot message #{message_id} with a {data!r} button")
        query = {
            "id": str(next(self._query_ids)),
            "from": user,
            "message": self._messages[(chat_id, message_id)],
            "chat_instance": f"-{chat_id}",
            "data": data,
        }
        self._unanswered_queries.add(query["id"])
        self._queue_update("callback_query", query)
        return query

    async def post_update(
        self, update: dict[str, Any], url: str | None = None, secret_token: str | None = REGISTERED_SECRET
    ) -> int:
        """POST ``update`` to the webhook as Telegram does; returns the HTTP status.

        ``url`` defaults to the one given to setWebhook and ``secret_token`` (the ``X-Telegram-Bot-Api-Secret-Token``
        header) to that call's secret; ``None`` sends no header. A 2xx answer confirms the update (no longer pending).
        """
        if url is None or secret_token is REGISTERED_SECRET:
            if self.webhook is None:
                raise AssertionError("no webhook is set (setWebhook was not called)")
            url = url or self.webhook["url"]
            secret_token = self.webhook.get("secret_token") if secret_token is REGISTERED_SECRET else secret_token
        headers = {} if secret_token is None else {_SECRET_TOKEN_HEADER: secret_token}
        async with aiohttp.ClientSession() as session, session.post(url, json=update, headers=headers) as response:
            await response.read()
        if 200 <= response.status < 300:
            self._pending = [pending for pending in self._pending if pending["update_id"] != update["update_id"]]
        return response.status

    def fail_next(
        self, method: str, status: int = 429, retry_after: int = 1, description: str | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with a Telegram-shaped ``status`` error.

        429 carries ``parameters.retry_after`` (aiogram raises TelegramRetryAfter); other statuses get Telegram's
        usual description unless ``description`` is given.
        """
        self._failures[method.lower()].extend([(status, retry_after, description)] * times)

    def clear_failures(self) -> None:
        """Forget the failures and connection drops injected but not yet used up."""
        self._failures.clear()
        self._drops.clear()

    def drop_next(self, method: str, *, after_handling: bool, times: int = 1) -> None:
        """Cut the connection of the next ``times`` calls of ``method`` without an answer: before Telegram acts on
        the call, or after (the message is sent, the bot just never hears so), which the bot cannot tell apart."""
        self._drops[method.lower()].extend([after_handling] * times)

    # ----------------------------------------------------------------- inspecting what the bot did

    def messages(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id`` (or anywhere), oldest first, deleted ones included."""
        return [record for record in self._sent if chat_id is None or record.chat_id == chat_id]

    def calls_to(self, method: str) -> list[Params]:
        """The params of every call of ``method``, in order."""
        return [params for name, params in self.calls if name == method]

    def timed_calls_to(self, method: str) -> list[tuple[float, Params]]:
        """When each call of ``method`` arrived (``time.monotonic()``) and its params, in order."""
        timed = zip(self.call_times, self.calls, strict=True)
        return [(when, params) for when, (name, params) in timed if name == method]

    async def wait_for(
        self, predicate: Callable[[SentMessage], bool], timeout: float = 30.0, *, what: str = "a matching message"
    ) -> SentMessage:
        """The first sent message (in sending order) matching ``predicate``, waiting up to ``timeout`` seconds.

        Edits and deletions wake the wait too. On timeout raises AssertionError listing what the bot did send.
        """
        found = await self._wait_until(lambda: next(filter(predicate, self._sent), None), timeout)
        if found is None:
            raise AssertionError(self._timeout_report(what, timeout))
        return found

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        *,
        after: int = 0,
        timeout: float = 30.0,
    ) -> SentMessage:
        """The first message sent to ``chat_id`` with message_id > ``after`` that matches ``predicate``."""
        return await self._wait_in_chat(chat_id, predicate or (lambda _: True), after, timeout, "a message")

    async def wait_for_text(self, chat_id: int, contains: str, *, after: int = 0, timeout: float = 30.0) -> SentMessage:
        """The first message in ``chat_id`` whose text or caption contains ``contains``, now or before an edit."""

        def matches(record: SentMessage) -> bool:
            return record.ever_contained(contains)

        return await self._wait_in_chat(chat_id, matches, after, timeout, f"a text containing {contains!r}")

    async def wait_for_photo(self, chat_id: int, *, after: int = 0, timeout: float = 30.0) -> SentMessage:
        """The first photo sent to ``chat_id`` with message_id > ``after``."""
        return await self._wait_in_chat(chat_id, lambda r: r.photo is not None, after, timeout, "a photo")

    async def wait_for_document(self, chat_id: int, *, after: int = 0, timeout: float = 30.0) -> SentMessage:
        """The first document sent to ``chat_id`` with message_id > ``after``."""
        return await self._wait_in_chat(chat_id, lambda r: r.document is not None, after, timeout, "a document")

    async def wait_for_call(
        self, method: str, predicate: Callable[[Params], bool] | None = None, *, timeout: float = 30.0
    ) -> Params:
        """The params of the first call of ``method`` matching ``predicate``, waiting up to ``timeout`` seconds."""

        def first_match() -> Params | None:
            return next((p for p in self.calls_to(method) if predicate is None or predicate(p)), None)

        found = await self._wait_until(first_match, timeout)
        if found is None:
            raise AssertionError(self._timeout_report(f"a {method} call", timeout))
        return found

    async def _wait_in_chat(
        self, chat_id: int, predicate: Callable[[SentMessage], bool], after: int, timeout: float, what: str
    ) -> SentMessage:
        def matches(record: SentMessage) -> bool:
            return record.chat_id == chat_id and record.message_id > after and predicate(record)

        return await self.wait_for(matches, timeout, what=f"{what} in chat {chat_id} after #{after}")

    async def _wait_until(self, check: Callable[[], T | None], timeout: float) -> T | None:
        """``check()``'s first non-None result, re-checked on every state change; None after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while (result := check()) is None:
                    await self._changed.wait()
                return result
        except TimeoutError:
            return None

    def _notify(self) -> None:
        """Wake every waiter: they re-check their condition against the new state."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _timeout_report(self, what: str, timeout: float) -> str:
        lines = [f"Timed out after {timeout:g}s waiting for {what}.", "Messages the bot sent:"]
        lines += [f"  {record.describe()}" for record in self._sent] or ["  (none)"]
        calls = [name for name, _ in self.calls if name != "getUpdates"]
        lines.append("Bot API calls other than getUpdates: " + (", ".join(calls) or "(none)"))
        return "\n".join(lines)

    # ----------------------------------------------------------------- HTTP

    def _method_table(self) -> dict[str, tuple[str, Handler]]:
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setWebhook": self._set_webhook,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendMediaGroup": self._send_media_group,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "getChatMember": self._get_chat_member,
        }
        return {name.lower(): (name, handler) for name, handler in handlers.items()}

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        requested = request.match_info["method"]
        method, handler = self._methods.get(requested.lower(), (requested, None))
        try:
            params = await _read_params(request)
            self.calls.append((method, params))
            self.call_times.append(time.monotonic())
            self._notify()
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            drops = self._drops.get(method.lower())
            drop_after = drops.popleft() if drops else None
            if drop_after is False:
                return _drop_connection(request)
            self._raise_injected_failure(method)
            self._refuse_upgraded_group(params)
            result = await handler(params)
            if drop_after:
                return _drop_connection(request)
        except ApiError as error:
            return error.response()
        return web.json_response({"ok": True, "result": result})

    async def _handle_download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return ApiError(404, "Not Found").response()
        return web.Response(body=stored.data, content_type="application/octet-stream")

    def _raise_injected_failure(self, method: str) -> None:
        pending = self._failures.get(method.lower())
        if not pending:
            return
        status, retry_after, description = pending.popleft()
        if status == 429:
            raise ApiError(
                429, description or f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        raise ApiError(status, description or _FAILURE_DESCRIPTIONS.get(status, "Error"))

    # ----------------------------------------------------------------- Bot API: bot and updates

    async def _get_me(self, params: Params) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        """Long polling: confirm updates below ``offset``, wait up to ``timeout`` s for one, honour ``limit``."""
        if self.webhook is not None:
            raise ApiError(409, _WEBHOOK_ACTIVE)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # a getUpdates still waiting is now superseded, as on Telegram
        self._confirm_updates(params.get("offset"))
        limit = min(max(params.get("limit") or 100, 1), 100)
        allowed = params.get("allowed_updates") or None
        timeout = min(max(params.get("timeout") or 0, 0), MAX_POLL_SECONDS)

        def batch() -> list[dict[str, Any]] | None:
            if self._closing or generation != self._poll_generation:
                return []
            ready = [update for update in self._pending if allowed is None or _update_type(update) in allowed]
            return ready[:limit] or None

        updates = await self._wait_until(batch, timeout)
        if generation != self._poll_generation:
            raise ApiError(409, _CONFLICT)
        return updates or []

    def _confirm_updates(self, offset: Any) -> None:
        if isinstance(offset, int) and offset > 0:
            self._pending = [update for update in self._pending if update["update_id"] >= offset]

    async def _delete_webhook(self, params: Params) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _set_webhook(self, params: Params) -> bool:
        """Records the webhook; updates reach it only through :meth:`post_update` (nothing is pushed by itself)."""
        url = params.get("url")
        if not url:  # Telegram: an empty url removes the webhook
            return await self._delete_webhook(params)
        if not str(url).startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = dict(params)
        return True

    async def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        info = {
            "url": "" if self.webhook is None else self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None and self.webhook.get("allowed_updates") is not None:
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _set_my_commands(self, params: Params) -> bool:
        self.commands[_commands_key(params)] = _valid_commands(params.get("commands"))
        return True

    async def _get_my_commands(self, params: Params) -> list[dict[str, str]]:
        return self.commands.get(_commands_key(params), [])

    async def _delete_my_commands(self, params: Params) -> bool:
        self.commands.pop(_commands_key(params), None)
        return True

    # ----------------------------------------------------------------- Bot API: sending

    async def _send_message(self, params: Params) -> dict[str, Any]:
        chat = self._chat(params)
        text = _message_text(params)
        return self._post("sendMessage", chat, params, {"text": text}, text=text)

    async def _send_photo(self, params: Params) -> dict[str, Any]:
        chat = self._chat(params)
        data, _ = self._input_file(params, params.get("photo"), "photo")
        caption = _caption(params)
        content = {"photo": self._bot_photo_sizes(data), **_present("caption", caption)}
        return self._post("sendPhoto", chat, params, content, photo=data, caption=caption)

    async def _send_document(self, params: Params) -> dict[str, Any]:
        chat = self._chat(params)
        content, fields = self._document_content(params, params.get("document"), params)
        return self._post("sendDocument", chat, params, content, **fields)

    async def _send_media_group(self, params: Params) -> list[dict[str, Any]]:
        chat = self._chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media in the media group: 2-10 are allowed")
        items = [self._media_item(params, item) for item in media]
        group_id = str(next(self._media_group_ids))
        return [
            self._post(
                "sendMediaGroup",
                chat,
                params,
                {**content, "media_group_id": group_id},
                media_group_id=group_id,
                **fields,
            )
            for content, fields in items
        ]

    def _media_item(self, params: Params, item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Message content and record fields for one InputMediaPhoto or InputMediaDocument."""
        if item.get("type") == "document":
            return self._document_content(params, item.get("media"), item)
        if item.get("type") != "photo":
            raise bad_request(f"media type {item.get('type')!r} is not supported by the fake")
        data, _ = self._input_file(params, item.get("media"), "media")
        caption = _caption(item)
        content = {"photo": self._bot_photo_sizes(data), **_present("caption", caption)}
        return content, {"photo": data, "caption": caption, "parse_mode": item.get("parse_mode")}

    def _document_content(
        self, params: Params, value: Any, source: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Message content and record fields of a document; caption and parse_mode come from ``source``."""
        data, file_name = self._input_file(params, value, "document")
        mime_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        caption = _caption(source)
        content = {"document": self._store_document(data, file_name, mime_type), **_present("caption", caption)}
        fields = {"document": data, "file_name": file_name, "mime_type": mime_type, "caption": caption}
        return content, {**fields, "parse_mode": source.get("parse_mode")}

    def _post(
        self, method: str, chat: dict[str, Any], params: Params, content: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        """Create a bot message in ``chat`` for a send* call, record it, and return the Message object."""
        reply_to = self._reply_target(chat["id"], params)
        markup = params.get("reply_markup")
        _check_markup(markup)
        thread_id = params.get("message_thread_id")
        message = self._new_message(chat, self.bot_user, content, reply_to, thread_id)
        _set_markup(message, markup)
        fields = {"parse_mode": params.get("parse_mode"), **fields}
        record = SentMessage(
            chat["id"],
            message["message_id"],
            method,
            reply_to_message_id=reply_to,
            message_thread_id=thread_id,
            reply_markup=markup,
            **fields,
        )
        record.history.extend(version for version in (record.text, record.caption) if version is not None)
        self._sent.append(record)
        self._sent_by_key[(record.chat_id, record.message_id)] = record
        self._notify()
        return message

    def _reply_target(self, chat_id: int, params: Params) -> int | None:
        """The message a send* call replies to: reply_parameters, or the older reply_to_message_id."""
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id", params.get("reply_to_message_id"))
        if message_id is None or (chat_id, message_id) in self._messages:
            return message_id
        if reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply")):
            return None
        raise bad_request("message to be replied not found")

    def _input_file(self, params: Params, value: Any, field_name: str) -> tuple[bytes, str]:
        """Bytes and file name of an uploaded part, an ``attach://<part>`` reference, or a known file_id."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedFile):
            return value.data, value.filename
        if value is None:
            raise bad_request(f"there is no {field_name} in the request")
        stored = self._files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored.data, PurePosixPath(stored.file_path).name

    def _bot_photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        """Store a photo the bot sends, refusing what Telegram refuses."""
        try:
            sizes = self._store_photo(data)
        except OSError:
            raise bad_request("IMAGE_PROCESS_FAILED") from None
        width, height = sizes[-1]["width"], sizes[-1]["height"]
        if width + height > 10_000 or max(width, height) > 20 * min(width, height):
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        return sizes

    # ----------------------------------------------------------------- Bot API: editing and the rest

    async def _edit_message_text(self, params: Params) -> dict[str, Any]:
        record = self._own_message(params)
        text = _message_text(params)
        if record.text is None:
            raise bad_request("there is no text in the message to edit")
        return self._edit(record, params.get("reply_markup"), text=text)

    async def _edit_message_caption(self, params: Params) -> dict[str, Any]:
        record = self._own_message(params)
        if record.text is not None:
            raise bad_request("there is no caption in the message to edit")
        return self._edit(record, params.get("reply_markup"), caption=_caption(params))

    async def _edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        return self._edit(self._own_message(params), params.get("reply_markup"))

    def _own_message(self, params: Params) -> SentMessage:
        """The live bot message an edit* call targets."""
        chat = self._chat(params)
        if params.get("message_id") is None:
            raise bad_request("message identifier is not specified")
        key = (chat["id"], params["message_id"])
        record = self._sent_by_key.get(key)
        if record is not None and not record.deleted:
            return record
        if key in self._messages:
            raise bad_request("message can't be edited")
        raise bad_request("message to edit not found")

    def _edit(self, record: SentMessage, markup: dict[str, Any] | None, **changes: str | None) -> dict[str, Any]:
        """Apply an edit to a message and its record; like Telegram, refuse an edit that changes nothing.

        As on Telegram, an edit without reply_markup removes the inline keyboard.
        """
        _check_markup(markup)
        if markup == record.reply_markup and all(getattr(record, k) == v for k, v in changes.items()):
            raise bad_request(_NOT_MODIFIED)
        message = self._messages[(record.chat_id, record.message_id)]
        for name, value in changes.items():
            setattr(record, name, value)
            record.history.append(value or "")
            message.pop(name, None)
            message.update(_present(name, value))
        message["edit_date"] = int(time.time())
        record.reply_markup = markup
        _set_markup(message, markup)
        self._notify()
        return message

    async def _delete_message(self, params: Params) -> bool:
        chat = self._chat(params)
        key = (chat["id"], params.get("message_id"))
        if self._messages.pop(key, None) is None:
            raise bad_request("message to delete not found")
        if (record := self._sent_by_key.get(key)) is not None:
            record.deleted = True
        self._notify()
        return True

    async def _send_chat_action(self, params: Params) -> bool:
        self._chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _answer_callback_query(self, params: Params) -> bool:
        query_id = params.get("callback_query_id")
        if query_id not in self._unanswered_queries:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        self._unanswered_queries.discard(query_id)
        return True

    async def _get_file(self, params: Params) -> dict[str, Any]:
        stored = self._files.get(params.get("file_id", ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {**stored.ref(), "file_path": stored.file_path}

    async def _get_chat_member(self, params: Params) -> dict[str, Any]:
        self._chat(params)
        user_id = params.get("user_id")
        user = self.bot_user if user_id == self.bot_user["id"] else self._users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        status = "administrator" if (params.get("chat_id"), user_id) in self.admins else "member"
        if status == "administrator":
            return {
                "status": status,
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_send_welcome_messages": False,
            }
        return {"status": status, "user": user}

    def upgrade_group(self, chat_id: int, new_chat_id: int, *, announce: bool = True) -> None:
        """Telegram upgrades the group ``chat_id`` to the supergroup ``new_chat_id``: from now on every call into
        the old id is refused with 400 and ``parameters.migrate_to_chat_id``, the group's admins administer the new
        chat, and (``announce``) the old group gets the service message with ``migrate_to_chat_id``."""
        old = self._chats[chat_id]
        self._chats[new_chat_id] = {"id": new_chat_id, "type": "supergroup", "title": old["title"]}
        self._upgraded[chat_id] = new_chat_id
        self.admins |= {(new_chat_id, user_id) for chat, user_id in self.admins if chat == chat_id}
        if announce:
            message_id = next(self._message_ids[chat_id])
            service = {
                "message_id": message_id,
                "chat": old,
                "date": int(time.time()),
                "migrate_to_chat_id": new_chat_id,
            }
            self._messages[(chat_id, message_id)] = service
            self._queue_update("message", service)

    def _refuse_upgraded_group(self, params: Params) -> None:
        chat_id = params.get("chat_id")
        moved = (
            self._upgraded.get(int(chat_id))
            if isinstance(chat_id, int | str) and str(chat_id).lstrip("-").isdigit()
            else None
        )
        if moved is not None:
            raise ApiError(
                400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": moved}
            )

    def make_admin(self, chat_id: int, user: dict[str, Any]) -> None:
        """``user`` administers the group ``chat_id`` (``getChatMember`` says so)."""
        self.admins.add((chat_id, user["id"]))

    # ----------------------------------------------------------------- messages, chats and files

    def _chat(self, params: Params) -> dict[str, Any]:
        """The chat a call addresses: a user's private chat (see :meth:`user`) or a group a user wrote in."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _user_chat(self, chat_id: int, user: dict[str, Any], chat_type: str, thread_id: int | None) -> dict[str, Any]:
        self._users[user["id"]] = user
        if chat_type == "private":
            if chat_id != user["id"]:
                raise ValueError(f"a private chat's id is its user's id ({user['id']}), not {chat_id}")
            return self._chats.setdefault(chat_id, _private_chat(user))
        chat = {"id": chat_id, "type": chat_type, "title": f"Test {chat_type} {chat_id}"}
        if thread_id is not None:
            chat["is_forum"] = True
        return self._chats.setdefault(chat_id, chat)

    def edit_text(self, chat_id: int, user: dict[str, Any], message_id: int, text: str) -> dict[str, Any]:
        """The user edits their earlier message ``message_id`` (an ``edited_message`` update); returns it."""
        message = self._messages[(chat_id, message_id)]
        message.update(_user_text_fields("text", text), edit_date=int(time.time()))
        self._queue_update("edited_message", message)
        return message

    def channel_post(self, chat_id: int, title: str, text: str) -> dict[str, Any]:
        """A post in a channel the bot was added to (a ``channel_post`` update, no sender); returns it."""
        chat = self._chats.setdefault(chat_id, {"id": chat_id, "type": "channel", "title": title})
        message_id = next(self._message_ids[chat_id])
        post = {"message_id": message_id, "chat": chat, "date": int(time.time()), **_user_text_fields("text", text)}
        self._messages[(chat_id, message_id)] = post
        self._queue_update("channel_post", post)
        return post

    def _user_message(
        self,
        chat_id: int,
        user: dict[str, Any],
        content: dict[str, Any],
        reply_to: int | None,
        chat_type: str,
        thread_id: int | None,
    ) -> dict[str, Any]:
        chat = self._user_chat(chat_id, user, chat_type, thread_id)
        if reply_to is not None and (chat_id, reply_to) not in self._messages:
            raise LookupError(f"chat {chat_id} has no message #{reply_to} to reply to")
        message = self._new_message(chat, user, content, reply_to, thread_id)
        self._queue_update("message", message)
        return message

    def _new_message(
        self,
        chat: dict[str, Any],
        sender: dict[str, Any],
        content: dict[str, Any],
        reply_to: int | None,
        thread_id: int | None,
    ) -> dict[str, Any]:
        """A Message object with the chat's next message_id, kept for replies, edits and deletion."""
        message_id = next(self._message_ids[chat["id"]])
        message = {"message_id": message_id, "from": sender, "chat": chat, "date": int(time.time()), **content}
        if thread_id is not None:
            message |= {"message_thread_id": thread_id, "is_topic_message": True}
        if reply_to is not None:
            replied = self._messages[(chat["id"], reply_to)]
            message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
        self._messages[(chat["id"], message_id)] = message
        return message

    def _queue_update(self, kind: str, payload: dict[str, Any]) -> None:
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        self.updates.append(update)
        self._pending.append(update)
        self._notify()

    def _store_file(self, data: bytes, folder: str, extension: str) -> StoredFile:
        number = next(self._file_numbers)
        prefix = "AgACAgIAAxkBAAI" if folder == "photos" else "BQACAgIAAxkBAAI"
        stored = StoredFile(
            file_id=f"{prefix}{number:05d}{secrets.token_urlsafe(18)}",
            file_unique_id=f"AQAD{number:05d}",
            file_path=f"{folder}/file_{number}{extension}",
            data=data,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Store an image as PhotoSizes, smallest first; OSError if it is not an image."""
        return [
            {**self._store_file(variant, "photos", ".jpg").ref(), "width": width, "height": height}
            for variant, width, height in _photo_variants(data)
        ]

    def _store_document(self, data: bytes, file_name: str, mime_type: str) -> dict[str, Any]:
        stored = self._store_file(data, "documents", PurePosixPath(file_name).suffix)
        return {**stored.ref(), "file_name": file_name, "mime_type": mime_type}


def _drop_connection(request: web.Request) -> web.Response:
    """Close the client's connection at once; the response returned is never written."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


# --------------------------------------------------------------------- request parsing and Telegram's rules


async def _read_params(request: web.Request) -> Params:
    """Params from the query string and a JSON, urlencoded or multipart body; file parts become UploadedFile."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            raw.update(await request.json())
        except json.JSONDecodeError:
            raise bad_request("can't parse JSON request body") from None
    elif request.can_read_body:
        for name, value in (await request.post()).items():
            raw[name] = _uploaded(value) if isinstance(value, web.FileField) else value
    return {name: _coerce(name, value) for name, value in raw.items()}


def _uploaded(part: web.FileField) -> UploadedFile:
    return UploadedFile(filename=part.filename, data=part.file.read(), content_type=part.content_type)


def _coerce(name: str, value: Any) -> Any:
    """Decode a form value as Telegram does: objects arrive JSON-encoded, numbers and booleans as text."""
    if not isinstance(value, str):
        return value
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise bad_request(f"can't parse {name} JSON object") from None
    if name in _INT_FIELDS and _INT_RE.fullmatch(value):
        return int(value)
    if name in _BOOL_FIELDS:
        return value.lower() in {"true", "1"}
    return value


def _message_text(params: Params) -> str:
    text = _visible_text(params.get("text") or "", params.get("parse_mode"))
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return text


def _caption(source: dict[str, Any]) -> str | None:
    caption = _visible_text(source.get("caption") or "", source.get("parse_mode"))
    if len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return caption or None


def _visible_text(raw: str, parse_mode: str | None) -> str:
    """What the user sees: HTML is validated and its tags stripped like Telegram does; other modes stay as sent."""
    return _strip_html(raw) if (parse_mode or "").upper() == "HTML" else raw


def _strip_html(raw: str) -> str:
    parts: list[str] = []
    open_tags: list[str] = []
    position = 0
    while (start := raw.find("<", position)) != -1:
        parts.append(raw[position:start])
        position = _consume_html_tag(raw, start, open_tags)
    if open_tags:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    parts.append(raw[position:])
    return html.unescape("".join(parts))


def _consume_html_tag(raw: str, start: int, open_tags: list[str]) -> int:
    """Check the tag at ``raw[start]`` against Telegram's HTML rules, track nesting; return where it ends."""
    offset = len(raw[:start].encode())
    tag = _HTML_TAG_RE.match(raw, start)
    if tag is None:
        raise _entities_error(f'Unexpected "<" at byte offset {offset}: escape it as &lt;')
    closing, name = tag.group(1) == "/", tag.group(2).lower()
    if name not in _HTML_TAGS:
        raise _entities_error(f'Unsupported {"end" if closing else "start"} tag "{name}" at byte offset {offset}')
    if not closing:
        open_tags.append(name)
    elif not open_tags:
        raise _entities_error(f"Unexpected end tag at byte offset {offset}")
    elif (expected := open_tags.pop()) != name:
        raise _entities_error(f'Unmatched end tag at byte offset {offset}, expected "</{expected}>", found "</{name}>"')
    return tag.end()


def _entities_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def _check_markup(markup: Any) -> None:
    """Refuse inline buttons Telegram refuses: callback_data longer than 64 bytes."""
    for data in _callback_datas(markup):
        if len(data.encode()) > MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")


def _callback_datas(markup: Any) -> list[str]:
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


def _set_markup(message: dict[str, Any], markup: Any) -> None:
    """Messages carry only inline keyboards; reply keyboards are not echoed back by Telegram."""
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def scope_key(scope: dict[str, Any] | None) -> str:
    """The key of a BotCommandScope in :attr:`FakeTelegramAPI.commands`.

    "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat:<chat_id>",
    "chat_administrators:<chat_id>" or "chat_member:<chat_id>:<user_id>".
    """
    scope = scope or {"type": "default"}
    return ":".join([scope["type"], *(str(scope[key]) for key in ("chat_id", "user_id") if key in scope)])


def _commands_key(params: Params) -> tuple[str, str]:
    return scope_key(params.get("scope")), params.get("language_code") or ""


def _valid_commands(commands: Any) -> list[dict[str, str]]:
    if not isinstance(commands, list):
        raise bad_request('parameter "commands" must be an array')
    for command in commands:
        if not _BOT_COMMAND_RE.fullmatch(command.get("command", "")):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command.get("description", "")) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return [{"command": c["command"], "description": c["description"]} for c in commands]


def _update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _private_chat(user: dict[str, Any]) -> dict[str, Any]:
    chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    return chat | _present("username", user.get("username"))


def _present(key: str, value: Any) -> dict[str, Any]:
    """``{key: value}``, or nothing when value is None."""
    return {} if value is None else {key: value}


def _user_text_fields(key: str, text: str | None) -> dict[str, Any]:
    """A user's text or caption with the bot_command entity Telegram adds to a leading /command."""
    if text is None:
        return {}
    command = _COMMAND_RE.match(text)
    if command is None:
        return {key: text}
    entities_key = "entities" if key == "text" else "caption_entities"
    return {key: text, entities_key: [{"type": "bot_command", "offset": 0, "length": len(command.group())}]}


def _photo_variants(data: bytes) -> list[tuple[bytes, int, int]]:
    """(bytes, width, height): JPEG thumbnails smaller than the image, then the image's own bytes."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        thumbnails = [_jpeg_thumbnail(image, side) for side in THUMBNAIL_SIDES if side < max(image.size)]
        return [*thumbnails, (data, image.width, image.height)]


def _jpeg_thumbnail(image: Image.Image, side: int) -> tuple[bytes, int, int]:
    thumbnail = image.convert("RGB")
    thumbnail.thumbnail((side, side))
    buffer = io.BytesIO()
    thumbnail.save(buffer, "JPEG", quality=80)
    return buffer.getvalue(), thumbnail.width, thumbnail.height
