"""An in-process fake of Discord for testing the bot through the real discord.py client.

It serves the REST API (v10) the bot uses — log-in, interaction callbacks, the interaction webhook (original
response and follow-ups), channel messages, DMs, command sync — plus a CDN for attachments and a minimal gateway
(HELLO, IDENTIFY → READY, heartbeats, dispatched events). Point discord.py at it with ``DISCORD_API_URL`` (or
``discord.http.Route.BASE = fake.base_url`` in process); the gateway URL comes from ``GET /gateway/bot``.

The test plays Discord's users: it builds realistic INTERACTION_CREATE payloads (:meth:`FakeDiscordAPI.slash_command`,
``message_command``, ``press_button``, ``submit_modal`` for a modal the bot opened) and either hands them to an
in-process bot (``bot._connection.parse_interaction_create(payload)``) or sends them over the gateway
(:meth:`dispatch`). Then it inspects or awaits what the bot did::

    async with FakeDiscordAPI() as fake:
        alice, channel = fake.user("Алиса"), fake.text_channel(fake.guild())
        interaction = fake.slash_command(alice, channel, "imagine", {"prompt": "кот"})
        fake.dispatch(interaction)
        picture = await fake.wait_for_message(channel["id"], lambda m: m.attachments)

Discord's rules that bots trip over are enforced: the 3-second deadline for the first response and "already
acknowledged" repeats, interaction tokens that expire after 15 minutes (the fake's clock can be moved on with
:meth:`advance`), the first follow-up after a deferral replacing the "thinking…" message, ephemeral messages that
only the token can edit, channels the bot may not access, 2000-character contents, empty messages, upload limits,
components (custom_id ≤ 100 characters, ≤ 5 buttons a row, ≤ 5 rows), and modals (a title ≤ 45 characters, 1-5
text inputs; only a command or a button may be answered with one). Deliberate simplifications: one bot user, no rate
limits, no permissions beyond "may access this channel", message search by channel only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import WSMsgType, web

DEFAULT_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.GfakeX.molbert-fake-discord-bot-token-000"
DISCORD_EPOCH_MS = 1_420_070_400_000
API_PREFIX = "/api/v10"
INTERACTION_DEADLINE = 3.0
TOKEN_LIFETIME = 15 * 60
CONTENT_LIMIT = 2000
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
UPLOAD_LIMITS = {0: DEFAULT_UPLOAD_LIMIT, 1: DEFAULT_UPLOAD_LIMIT, 2: 50 * 1024 * 1024, 3: 100 * 1024 * 1024}
MEMBER_PERMISSIONS = 2248473465835073  # what a member without special rights has in a channel
MANAGE_GUILD = 1 << 5

EPHEMERAL = 1 << 6
LOADING = 1 << 7

# interaction types and callback types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
# component types in a modal
ACTION_ROW, TEXT_INPUT, LABEL = 1, 4, 18
# channel types
GUILD_TEXT, DM, PUBLIC_THREAD = 0, 1, 11

_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
_VALID_LOCALES = frozenset(
    {
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    }
)

T = TypeVar("T")


class ApiError(Exception):
    """A failed API call, answered the way Discord answers it."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        """Discord's JSON error body."""
        return _json_response({"message": self.message, "code": self.code}, status=self.status)


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


@dataclass
class Upload:
    """A file the bot attached to a message."""

    filename: str
    data: bytes
    content_type: str


@dataclass
class FakeMessage:
    """A message in the fake, kept up to date with edits and deletion.

    ``via`` is how it was made: ``original`` (an interaction response), ``followup``, ``channel`` (the bot's own
    REST call) or ``user`` (made by the test).
    """

    id: int
    channel_id: int
    author: dict[str, Any]
    content: str = ""
    files: list[Upload] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    via: str = "channel"
    interaction_id: int | None = None
    reference: int | None = None
    mentions: list[int] = field(default_factory=list)
    guild_id: int | None = None
    webhook_id: int | None = None
    deleted: bool = False
    history: list[str] = field(default_factory=list)

    @property
    def loading(self) -> bool:
        """Still "thinking…" (a deferred response nobody filled yet)."""
        return bool(self.flags & LOADING)

    @property
    def ephemeral(self) -> bool:
        """Only the interaction's user sees it."""
        return bool(self.flags & EPHEMERAL)

    @property
    def custom_ids(self) -> list[str]:
        """The custom ids of the message's buttons, row by row."""
        return [c["custom_id"] for row in self.components for c in row.get("components", []) if "custom_id" in c]

    def payload(self) -> dict[str, Any]:
        """The message as Discord serialises it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author,
            "content": self.content,
            "timestamp": _iso(_snowflake_seconds(self.id)),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self.attachments,
            "embeds": [],
            "pinned": False,
            "type": 0 if self.reference is None else 19,
            "flags": self.flags,
            "components": self.components,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        if self.reference is not None:
            data["message_reference"] = {"message_id": str(self.reference), "channel_id": str(self.channel_id)}
        return data

    def describe(self) -> str:
        """One line for failure reports."""
        state = " deleted" if self.deleted else ""
        return f"#{self.id} [{self.via}{state}] {self.content[:80]!r} files={[f.filename for f in self.files]}"


@dataclass
class FakeInteraction:
    """An interaction the test created, with what the bot did about it."""

    id: int
    token: str
    type: int
    channel_id: int
    guild_id: int | None
    user: dict[str, Any]
    payload: dict[str, Any]
    message_id: int | None = None  # the message a component was on
    response_type: int | None = None
    original: int | None = None
    followups: list[int] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None  # an autocomplete answer
    modal: dict[str, Any] | None = None  # the modal the bot answered with (callback type 9)

    @property
    def created(self) -> float:
        return _snowflake_seconds(self.id)


@dataclass
class Call:
    """One request the bot made: method, path (without the API prefix), JSON payload and uploaded files."""

    method: str
    path: str
    json: Any
    files: list[Upload]
    status: int = 0


class FakeDiscordAPI:
    """The fake Discord: REST, CDN and gateway on one local port."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_name: str = "Мольберт") -> None:
        self.token = token
        self.clock_offset = 0.0
        self._sequence = itertools.count(1)
        self.application_id = self.new_id()
        self.bot_user = self._user_payload(self.application_id, "molbert", bot_name, bot=True)
        self.guilds: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.forbidden: set[int] = set()
        self.managers: set[tuple[int, int]] = set()  # (guild id, user id) with the Manage Server permission
        self.uploads: dict[str, Upload] = {}
        self.messages_by_id: dict[int, FakeMessage] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.dm_by_user: dict[int, int] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[Call] = []
        self.unknown_routes: list[str] = []
        self.latencies: list[tuple[str, str, float]] = []
        self.gateway_sessions: list[web.WebSocketResponse] = []
        self.identified = asyncio.Event()
        self._gateway_sequence = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> Self:
        """Listen on a free local port."""
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel}/{id}/{filename}", self._cdn)
        app.router.add_route("*", API_PREFIX + "/{path:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close gateway sessions and stop serving."""
        for socket in list(self.gateway_sessions):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None):
        await self.stop()

    @property
    def base_url(self) -> str:
        """What ``DISCORD_API_URL`` / ``Route.BASE`` should be."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- time and ids ----------------------------------------------------------------------------------------

    def now(self) -> float:
        """The fake's clock (real time plus :meth:`advance`)."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on, e.g. past the 15 minutes an interaction token lives."""
        self.clock_offset += seconds

    def new_id(self) -> int:
        """A snowflake for the fake's current time."""
        ms = int(self.now() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._sequence) & 0xFFF)

    # --- the world: users, guilds, channels ------------------------------------------------------------------

    def user(self, name: str, user_id: int | None = None) -> dict[str, Any]:
        """A Discord user (payload)."""
        return self._user_payload(user_id or self.new_id(), name.lower(), name)

    def guild(self, name: str = "Мастерская", premium_tier: int = 0) -> dict[str, Any]:
        """A guild the bot is in."""
        guild = {"id": str(self.new_id()), "name": name, "premium_tier": premium_tier}
        self.guilds[int(guild["id"])] = guild
        return guild

    def text_channel(self, guild: dict[str, Any], name: str = "общий") -> dict[str, Any]:
        """A text channel in ``guild``."""
        channel = {
            "id": str(self.new_id()),
            "type": GUILD_TEXT,
            "guild_id": guild["id"],
            "name": name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self.channels[int(channel["id"])] = channel
        return channel

    def thread(self, parent: dict[str, Any], owner: dict[str, Any], name: str = "ветка") -> dict[str, Any]:
        """A public thread under ``parent``."""
        channel = {
            "id": str(self.new_id()),
            "type": PUBLIC_THREAD,
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": owner["id"],
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": _iso(self.now()),
                "locked": False,
            },
        }
        self.channels[int(channel["id"])] = channel
        return channel

    def dm_channel(self, user: dict[str, Any]) -> dict[str, Any]:
        """The DM channel between the bot and ``user``."""
        channel_id = self.dm_by_user.get(int(user["id"]))
        if channel_id is None:
            channel_id = self.new_id()
            self.dm_by_user[int(user["id"])] = channel_id
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": DM,
                "recipients": [user],
                "last_message_id": None,
                "flags": 0,
            }
        return self.channels[channel_id]

    def slow_down(self, method: str, path_pattern: str, seconds: float) -> None:
        """Make matching requests take ``seconds`` longer (to open race windows)."""
        self.latencies.append((method, path_pattern, seconds))

    def grant_manage_guild(self, guild: dict[str, Any], user: dict[str, Any]) -> None:
        """``user`` gets the Manage Server permission in ``guild`` (their interactions there carry it)."""
        self.managers.add((int(guild["id"]), int(user["id"])))

    def forbid(self, channel: dict[str, Any]) -> None:
        """The bot may no longer access ``channel`` through its own REST calls (interaction tokens still work)."""
        self.forbidden.add(int(channel["id"]))

    def upload(self, channel: dict[str, Any], data: bytes, filename: str, content_type: str | None) -> dict[str, Any]:
        """A file a user attached, served by the fake CDN; returns the attachment payload."""
        attachment_id = self.new_id()
        path = f"/attachments/{channel['id']}/{attachment_id}/{filename}"
        self.uploads[path] = Upload(filename, data, content_type or "application/octet-stream")
        attachment = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": self.origin + path,
            "proxy_url": self.origin + path,
        }
        if content_type is not None:
            attachment["content_type"] = content_type
        return attachment

    def user_message(
        self, channel: dict[str, Any], author: dict[str, Any], content: str = "", attachments: list | None = None
    ) -> FakeMessage:
        """A message a user posted."""
        message = FakeMessage(
            id=self.new_id(),
            channel_id=int(channel["id"]),
            author=author,
            content=content,
            attachments=attachments or [],
            via="user",
            guild_id=_int_or_none(channel.get("guild_id")),
        )
        self.messages_by_id[message.id] = message
        return message

    # --- interactions the test sends -------------------------------------------------------------------------

    def slash_command(
        self,
        user: dict[str, Any],
        channel: dict[str, Any],
        name: str,
        options: dict[str, Any] | None = None,
        *,
        locale: str = "ru",
    ) -> dict[str, Any]:
        """INTERACTION_CREATE for ``/name option:value…``; attachment options take :meth:`upload` payloads."""
        resolved: dict[str, Any] = {}
        option_list = []
        for option_name, value in (options or {}).items():
            if isinstance(value, dict) and "filename" in value:
                resolved.setdefault("attachments", {})[value["id"]] = value
                option_list.append({"name": option_name, "type": 11, "value": value["id"]})
            elif isinstance(value, bool):
                option_list.append({"name": option_name, "type": 5, "value": value})
            elif isinstance(value, int):
                option_list.append({"name": option_name, "type": 4, "value": value})
            else:
                option_list.append({"name": option_name, "type": 3, "value": value})
        data: dict[str, Any] = {"id": str(self._command_id(name)), "name": name, "type": 1, "options": option_list}
        if resolved:
            data["resolved"] = resolved
        return self._interaction(APPLICATION_COMMAND, user, channel, data, locale=locale)

    def autocomplete(
        self,
        user: dict[str, Any],
        channel: dict[str, Any],
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        locale: str = "ru",
    ) -> dict[str, Any]:
        """INTERACTION_CREATE for typing into the option ``focused`` of ``/name`` (autocomplete)."""
        payload = self.slash_command(user, channel, name, options, locale=locale)
        for option in payload["data"]["options"]:
            if option["name"] == focused:
                option["focused"] = True
        payload["type"] = AUTOCOMPLETE
        self.interactions[int(payload["id"])].type = AUTOCOMPLETE
        return payload

    def message_command(
        self, user: dict[str, Any], channel: dict[str, Any], name: str, message: FakeMessage, *, locale: str = "ru"
    ) -> dict[str, Any]:
        """INTERACTION_CREATE for a message context-menu command on ``message``."""
        data = {
            "id": str(self._command_id(name)),
            "name": name,
            "type": 3,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): message.payload()}},
        }
        return self._interaction(APPLICATION_COMMAND, user, channel, data, locale=locale)

    def press_button(
        self, user: dict[str, Any], message: FakeMessage, custom_id: str, *, locale: str = "ru"
    ) -> dict[str, Any]:
        """INTERACTION_CREATE for a press on the button ``custom_id`` under ``message``."""
        if custom_id not in message.custom_ids:
            raise AssertionError(f"message {message.id} has no button {custom_id!r}: {message.custom_ids}")
        channel = self.channels[message.channel_id]
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self._interaction(MESSAGE_COMPONENT, user, channel, data, locale=locale, message=message)
        self.interactions[int(payload["id"])].message_id = message.id
        return payload

    def submit_modal(self, payload: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        """INTERACTION_CREATE for the user of ``payload`` submitting the modal the bot answered it with; ``values``
        by the custom_id of its text inputs (unfilled ones are empty). What the client would not let the user send
        (an empty required field, too long a value) raises ``AssertionError``."""
        record = self.interaction(payload)
        if record.modal is None:
            raise AssertionError(f"interaction {record.id} was not answered with a modal")
        components = [_submitted(component, values) for component in record.modal["components"]]
        unknown = set(values) - {i["custom_id"] for i in _text_inputs(record.modal["components"])}
        if unknown:
            raise AssertionError(f"the modal has no text inputs {sorted(unknown)}")
        data = {"custom_id": record.modal["custom_id"], "components": components}
        channel = self.channels[record.channel_id]
        return self._interaction(MODAL_SUBMIT, record.user, channel, data, locale=payload["locale"])

    def dispatch(self, payload: dict[str, Any], event: str = "INTERACTION_CREATE") -> None:
        """Send an event to every identified gateway session."""
        if not self.gateway_sessions:
            raise AssertionError("no bot is connected to the fake gateway")
        self._gateway_sequence += 1
        frame = {"op": 0, "t": event, "s": self._gateway_sequence, "d": payload}
        for socket in self.gateway_sessions:
            asyncio.get_running_loop().create_task(socket.send_str(json.dumps(frame)))

    # --- what the bot did ------------------------------------------------------------------------------------

    def messages(self, channel_id: int | str, *, include_deleted: bool = False) -> list[FakeMessage]:
        """The messages of a channel, oldest first."""
        found = [m for m in self.messages_by_id.values() if m.channel_id == int(channel_id)]
        return [m for m in found if include_deleted or not m.deleted]

    def interaction(self, payload: dict[str, Any]) -> FakeInteraction:
        """The fake's record of an interaction made by one of the builders."""
        return self.interactions[int(payload["id"])]

    def original(self, payload: dict[str, Any]) -> FakeMessage | None:
        """The original response of an interaction, if it has one."""
        record = self.interaction(payload)
        return self.messages_by_id.get(record.original) if record.original else None

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        """Calls whose method matches and whose path matches the regular expression ``path_pattern``."""
        return [c for c in self.calls if c.method == method and re.fullmatch(path_pattern, c.path)]

    async def wait_for(self, check: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
        """Wait until ``check()`` returns something truthy and return it."""
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    while not (result := check()):
                        await self._changed.wait()
                    return result
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; {self.report()}") from None

    async def wait_for_message(
        self, channel_id: int | str, matches: Callable[[FakeMessage], Any] = bool, timeout: float = 10.0
    ) -> FakeMessage:
        """The first live message in the channel that ``matches`` (now or later)."""

        def find() -> FakeMessage | None:
            return next((m for m in self.messages(channel_id) if matches(m)), None)

        return await self.wait_for(find, timeout, f"a message in channel {channel_id}")

    def report(self) -> str:
        """What happened, for failure messages."""
        lines = [f"{c.method} {c.path} → {c.status}" for c in self.calls[-25:]]
        lines += [m.describe() for m in self.messages_by_id.values() if m.via != "user"]
        return "calls and messages:\n  " + "\n  ".join(lines)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- HTTP ------------------------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body, files = await _read_body(request)
        for method, pattern, seconds in self.latencies:
            if method == request.method and re.fullmatch(pattern, path):
                await asyncio.sleep(seconds)
        call = Call(request.method, path, body, files)
        self.calls.append(call)
        try:
            handler, params = self._route(request.method, path)
            if handler is None:
                self.unknown_routes.append(f"{request.method} {path}")
                raise ApiError(404, 0, "404: Not Found")
            if not path.startswith(("/webhooks/", "/interactions/")):
                self._check_auth(request)
            result = handler(body or {}, files, request.query, **params)
            call.status = 204 if result is None else 200
            response: web.StreamResponse = web.Response(status=204) if result is None else _json_response(result)
        except ApiError as exc:
            call.status = exc.status
            response = exc.response()
        await self._notify()
        return response

    def _route(self, method: str, path: str) -> tuple[Callable[..., Any] | None, dict[str, str]]:
        for route_method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler, match.groupdict()
        return None, {}

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        sid, tok = r"(?P<{}>\d+)", r"(?P<token>[^/]+)"
        hook = f"/webhooks/{sid.format('app')}/{tok}"
        return [
            ("GET", r"/users/@me", lambda *a: self.bot_user),
            ("GET", r"/oauth2/applications/@me", lambda *a: self._application()),
            ("GET", r"/gateway/bot", lambda *a: self._gateway_info()),
            ("POST", r"/users/@me/channels", self._create_dm),
            ("POST", f"/interactions/{sid.format('iid')}/{tok}/callback", self._callback),
            ("GET", hook + r"/messages/(?P<mid>@original|\d+)", self._webhook_get),
            ("PATCH", hook + r"/messages/(?P<mid>@original|\d+)", self._webhook_edit),
            ("DELETE", hook + r"/messages/(?P<mid>@original|\d+)", self._webhook_delete),
            ("POST", hook, self._webhook_execute),
            ("POST", f"/channels/{sid.format('cid')}/messages", self._channel_send),
            ("PATCH", f"/channels/{sid.format('cid')}/messages/{sid.format('mid')}", self._channel_edit),
            ("DELETE", f"/channels/{sid.format('cid')}/messages/{sid.format('mid')}", self._channel_delete),
            ("PUT", f"/applications/{sid.format('app')}/commands", self._put_commands),
            ("PUT", f"/applications/{sid.format('app')}/guilds/{sid.format('gid')}/commands", self._put_commands),
            ("GET", f"/applications/{sid.format('app')}/commands", self._get_commands),
        ]

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    async def _cdn(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.path)
        if upload is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=upload.data, content_type=upload.content_type)

    # --- REST handlers ---------------------------------------------------------------------------------------

    def _application(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user["global_name"],
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self._user_payload(self.new_id(), "owner", "Owner"),
            "verify_key": secrets.token_hex(32),
            "flags": 0,
            "team": None,
        }

    def _gateway_info(self) -> dict[str, Any]:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return {"url": f"ws://127.0.0.1:{self.port}/gateway", "shards": 1, "session_start_limit": limit}

    def _create_dm(self, body: dict, files: list, query: Any) -> dict[str, Any]:
        user_id = int(body["recipient_id"])
        known = {int(c["recipients"][0]["id"]): c for c in self.channels.values() if c["type"] == DM}
        user = known[user_id]["recipients"][0] if user_id in known else self._user_payload(user_id, "user", "User")
        return self.dm_channel(user)

    def _callback(self, body: dict, files: list[Upload], query: Any, iid: str, token: str) -> dict[str, Any]:
        record = self.interactions.get(int(iid))
        if record is None or record.token != token or self.now() - record.created > INTERACTION_DEADLINE:
            raise ApiError(404, 10062, "Unknown interaction")
        if record.response_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        kind, data = body.get("type"), body.get("data") or {}
        flags = int(data.get("flags") or 0)
        resource: dict[str, Any] = {"type": kind}
        if kind == CHANNEL_MESSAGE:
            message = self._new_message(record.channel_id, "original", data, files, interaction=record)
            record.original = message.id
            resource["message"] = message.payload()
        elif kind == DEFERRED_CHANNEL_MESSAGE:  # "Molbert is thinking…" until edited or followed up
            message = self._new_message(record.channel_id, "original", {"flags": flags}, [], interaction=record)
            record.original = message.id
            resource["message"] = message.payload()
        elif kind == AUTOCOMPLETE_RESULT and record.type == AUTOCOMPLETE:
            choices = data.get("choices", [])
            if len(choices) > 25 or any(not 1 <= len(c["name"]) <= 100 for c in choices):
                raise ApiError(400, 50035, "Invalid Form Body: choices")
            record.choices = choices
        elif kind == UPDATE_MESSAGE and record.message_id is not None:
            self._apply_edit(self.messages_by_id[record.message_id], data, files)
            record.original = record.message_id
        elif kind == DEFERRED_UPDATE_MESSAGE and record.message_id is not None:
            record.original = record.message_id
        elif kind == MODAL and record.type in (APPLICATION_COMMAND, MESSAGE_COMPONENT):
            _check_modal(data)
            record.modal = data
        else:
            raise ApiError(400, 50035, f"Invalid Form Body: interaction response type {kind}")
        record.response_type = kind
        original = self.messages_by_id.get(record.original) if record.original else None
        summary = {
            "id": str(record.id),
            "type": record.type,
            "response_message_id": str(record.original) if record.original else None,
            "response_message_loading": bool(original and original.loading),
            "response_message_ephemeral": bool(original and original.ephemeral),
        }
        return {"interaction": summary, "resource": resource}

    def _webhook_interaction(self, app: str, token: str) -> FakeInteraction:
        record = next((r for r in self.interactions.values() if r.token == token), None)
        if record is None or int(app) != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        if self.now() - record.created > TOKEN_LIFETIME:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if record.response_type is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        return record

    def _webhook_message(self, record: FakeInteraction, mid: str) -> FakeMessage:
        message_id = record.original if mid == "@original" else int(mid)
        if message_id is None or message_id not in (record.original, *record.followups):
            raise unknown_message()
        message = self.messages_by_id[message_id]
        if message.deleted:
            raise unknown_message()
        return message

    def _webhook_get(self, body: dict, files: list, query: Any, app: str, token: str, mid: str) -> dict[str, Any]:
        return self._webhook_message(self._webhook_interaction(app, token), mid).payload()

    def _webhook_edit(self, body: dict, files: list, query: Any, app: str, token: str, mid: str) -> dict[str, Any]:
        message = self._webhook_message(self._webhook_interaction(app, token), mid)
        self._apply_edit(message, body, files)
        return message.payload()

    def _webhook_delete(self, body: dict, files: list, query: Any, app: str, token: str, mid: str) -> None:
        message = self._webhook_message(self._webhook_interaction(app, token), mid)
        message.deleted = True

    def _webhook_execute(self, body: dict, files: list, query: Any, app: str, token: str) -> dict[str, Any] | None:
        record = self._webhook_interaction(app, token)
        original = self.messages_by_id.get(record.original) if record.original else None
        if original is not None and original.loading and not record.followups:
            # Discord: the first follow-up after a deferral becomes the deferred response
            self._apply_edit(original, body, files)
            message = original
        else:
            message = self._new_message(record.channel_id, "followup", body, files, interaction=record)
            record.followups.append(message.id)
        return message.payload() if query.get("wait") in ("true", "True", "1") else None

    def _channel_send(self, body: dict, files: list[Upload], query: Any, cid: str) -> dict[str, Any]:
        channel = self._accessible_channel(int(cid))
        reference = body.get("message_reference")
        reply_to = None
        if reference:
            target = self.messages_by_id.get(int(reference["message_id"]))
            if target is None or target.deleted or target.channel_id != int(cid):
                if reference.get("fail_if_not_exists", True):
                    raise ApiError(400, 50035, "Invalid Form Body: message_reference: Unknown message")
            else:
                reply_to = target.id
        message = self._new_message(int(cid), "channel", body, files)
        message.reference = reply_to
        message.guild_id = _int_or_none(channel.get("guild_id"))
        return message.payload()

    def _channel_edit(self, body: dict, files: list, query: Any, cid: str, mid: str) -> dict[str, Any]:
        message = self._own_channel_message(int(cid), int(mid))
        self._apply_edit(message, body, files)
        return message.payload()

    def _channel_delete(self, body: dict, files: list, query: Any, cid: str, mid: str) -> None:
        self._own_channel_message(int(cid), int(mid)).deleted = True

    def _put_commands(self, body: Any, files: list, query: Any, app: str, gid: str | None = None) -> list:
        if int(app) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        commands = [self._checked_command(command) for command in body]
        names = [(c["name"], c.get("type", 1)) for c in commands]
        if len(set(names)) != len(names):
            raise ApiError(400, 50035, "Invalid Form Body: APPLICATION_COMMANDS_DUPLICATE_NAME")
        for command in commands:  # what Discord adds to the stored command
            command.setdefault("description", "")
            command.setdefault("default_member_permissions", None)
            command.setdefault("nsfw", False)
            command.update(id=str(self.new_id()), application_id=str(self.application_id), version="1")
            if gid is not None:
                command["guild_id"] = gid
        self.commands["global" if gid is None else gid] = commands
        return commands

    def _get_commands(self, body: Any, files: list, query: Any, app: str) -> list:
        return self.commands.get("global", [])

    # --- rules -----------------------------------------------------------------------------------------------

    def _accessible_channel(self, channel_id: int) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        if channel_id in self.forbidden:
            raise missing_access()
        return channel

    def _own_channel_message(self, channel_id: int, message_id: int) -> FakeMessage:
        self._accessible_channel(channel_id)
        message = self.messages_by_id.get(message_id)
        if message is None or message.deleted or message.channel_id != channel_id or message.ephemeral:
            raise unknown_message()  # ephemeral messages exist only for the interaction's token
        if message.author["id"] != self.bot_user["id"]:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        return message

    def _new_message(
        self,
        channel_id: int,
        via: str,
        body: dict[str, Any],
        files: list[Upload],
        interaction: FakeInteraction | None = None,
    ) -> FakeMessage:
        message = FakeMessage(
            id=self.new_id(),
            channel_id=channel_id,
            author=self.bot_user,
            via=via,
            interaction_id=interaction.id if interaction else None,
            guild_id=interaction.guild_id if interaction else None,
            webhook_id=self.application_id if interaction else None,
            flags=int(body.get("flags") or 0) & (EPHEMERAL | LOADING),
        )
        if via == "original" and set(body) <= {"flags"}:  # a deferred response: empty, loading
            message.flags |= LOADING
        else:
            self._apply_edit(message, body, files, new=True)
        self.messages_by_id[message.id] = message
        return message

    def _apply_edit(self, message: FakeMessage, body: dict[str, Any], files: list[Upload], new: bool = False) -> None:
        content = body.get("content", None if not new else "")
        if content is not None and len(content) > CONTENT_LIMIT:
            raise ApiError(400, 50035, "Invalid Form Body: content: Must be 2000 or fewer in length.")
        limit = self._upload_limit(message.channel_id)
        for upload in files:
            if len(upload.data) > limit:
                raise ApiError(413, 40005, "Request entity too large")
        components = body.get("components")
        if components is not None:
            _check_components(components)
        kept = self._kept_attachments(message, body) if not new else []
        will_have_files = bool(files or kept)
        final_content = message.content if content is None else content
        if not final_content and not will_have_files and not (components or message.components):
            raise ApiError(400, 50006, "Cannot send an empty message")
        if content is not None:
            message.content = content
            message.history.append(content)
        if files or "attachments" in body:
            message.files = [f for f in message.files if f.filename in {a["filename"] for a in kept}] + files
            message.attachments = kept + [self._attachment_of(message, upload) for upload in files]
        if components is not None:
            message.components = components
        if "allowed_mentions" in body:
            allowed = body["allowed_mentions"] or {}
            message.mentions = [int(u) for u in allowed.get("users", [])]
        message.flags &= ~LOADING

    def _kept_attachments(self, message: FakeMessage, body: dict[str, Any]) -> list[dict[str, Any]]:
        if "attachments" not in body:
            return list(message.attachments)
        keep = {str(a.get("id")) for a in body["attachments"]}
        return [a for a in message.attachments if a["id"] in keep]

    def _attachment_of(self, message: FakeMessage, upload: Upload) -> dict[str, Any]:
        attachment_id = self.new_id()
        path = f"/attachments/{message.channel_id}/{attachment_id}/{upload.filename}"
        self.uploads[path] = upload
        return {
            "id": str(attachment_id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": self.origin + path,
            "proxy_url": self.origin + path,
            "content_type": upload.content_type,
        }

    def _upload_limit(self, channel_id: int) -> int:
        channel = self.channels.get(channel_id, {})
        guild = self.guilds.get(_int_or_none(channel.get("guild_id")) or 0)
        return UPLOAD_LIMITS[guild["premium_tier"]] if guild else DEFAULT_UPLOAD_LIMIT

    def _checked_command(self, command: dict[str, Any]) -> dict[str, Any]:
        kind = command.get("type", 1)
        name = command.get("name", "")
        if kind == 1 and (not _COMMAND_NAME.match(name) or name != name.lower()):
            raise ApiError(400, 50035, f"Invalid Form Body: name: {name!r} is not a valid slash command name")
        if kind != 1 and not 1 <= len(name) <= 32:
            raise ApiError(400, 50035, f"Invalid Form Body: name: {name!r} must be 1-32 characters")
        description = command.get("description", "")
        if kind == 1 and not 1 <= len(description) <= 100:
            raise ApiError(400, 50035, f"Invalid Form Body: description of {name!r} must be 1-100 characters")
        for key in ("name_localizations", "description_localizations"):
            bad = set(command.get(key) or {}) - _VALID_LOCALES
            if bad:
                raise ApiError(400, 50035, f"Invalid Form Body: {key}: unknown locales {sorted(bad)}")
        for option in command.get("options") or []:
            if not 1 <= len(option.get("description", "")) <= 100:
                raise ApiError(400, 50035, f"Invalid Form Body: option {option.get('name')!r} description")
        return dict(command)

    def _command_id(self, name: str) -> int:
        for commands in self.commands.values():
            for command in commands:
                if command["name"] == name:
                    return int(command["id"])
        return self.new_id()

    def _interaction(
        self,
        kind: int,
        user: dict[str, Any],
        channel: dict[str, Any],
        data: dict[str, Any],
        *,
        locale: str,
        message: FakeMessage | None = None,
    ) -> dict[str, Any]:
        interaction_id = self.new_id()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        guild_id = channel.get("guild_id")
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "channel": {**channel, "permissions": "2248473465835073"},
            "channel_id": channel["id"],
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": "2248473465835073",
            "entitlements": [],
            "attachment_size_limit": self._upload_limit(int(channel["id"])),
            "authorizing_integration_owners": {"0": guild_id} if guild_id else {"1": user["id"]},
            "context": 0 if guild_id else 1,
        }
        if guild_id:
            payload["guild_id"] = guild_id
            payload["guild_locale"] = "ru"
            payload["guild"] = {"id": guild_id, "locale": "ru", "features": []}
            payload["member"] = {
                "user": user,
                "roles": [],
                "joined_at": _iso(self.now() - 86400),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "pending": False,
                "nick": None,
                "avatar": None,
                "premium_since": None,
                "communication_disabled_until": None,
                "permissions": str(_member_permissions((int(guild_id), int(user["id"])) in self.managers)),
            }
        else:
            payload["user"] = user
        if message is not None:
            payload["message"] = message.payload()
        self.interactions[interaction_id] = FakeInteraction(
            id=interaction_id,
            token=token,
            type=kind,
            channel_id=int(channel["id"]),
            guild_id=_int_or_none(guild_id),
            user=user,
            payload=payload,
        )
        return payload

    @staticmethod
    def _user_payload(user_id: int, username: str, global_name: str, bot: bool = False) -> dict[str, Any]:
        user = {
            "id": str(user_id),
            "username": username,
            "global_name": global_name,
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
        }
        if bot:
            user["bot"] = True
        return user

    # --- gateway ---------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            if message["op"] == 1:  # heartbeat
                await socket.send_str(json.dumps({"op": 11}))
            elif message["op"] == 2:  # identify
                if message["d"].get("token") != self.token:
                    await socket.close(code=4004, message=b"Authentication failed.")
                    break
                await socket.send_str(json.dumps(self._ready()))
                self.gateway_sessions.append(socket)
                self.identified.set()
                await self._notify()
        if socket in self.gateway_sessions:
            self.gateway_sessions.remove(socket)
        return socket

    def _ready(self) -> dict[str, Any]:
        self._gateway_sequence += 1
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [],
            "session_id": secrets.token_hex(16),
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
            "application": {"id": str(self.application_id), "flags": 0},
            "shard": [0, 1],
        }
        return {"op": 0, "t": "READY", "s": self._gateway_sequence, "d": ready}


def _member_permissions(manages_guild: bool) -> int:
    """A member's permissions in a channel: the usual ones, plus Manage Server (0x20) for managers."""
    return MEMBER_PERMISSIONS | (MANAGE_GUILD if manages_guild else 0)


def _check_components(rows: list[dict[str, Any]]) -> None:
    if len(rows) > 5:
        raise ApiError(400, 50035, "Invalid Form Body: components: Must be 5 or fewer in length.")
    for row in rows:
        items = row.get("components", [])
        if row.get("type") != 1 or not 1 <= len(items) <= 5:
            raise ApiError(400, 50035, "Invalid Form Body: components: an action row holds 1-5 components")
        for item in items:
            custom_id = item.get("custom_id")
            if custom_id is not None and not 1 <= len(custom_id) <= 100:
                raise ApiError(400, 50035, "Invalid Form Body: custom_id: Must be between 1 and 100 in length.")
            if len(item.get("label") or "") > 80:
                raise ApiError(400, 50035, "Invalid Form Body: label: Must be 80 or fewer in length.")


def _check_modal(modal: dict[str, Any]) -> None:
    """Discord's limits on a modal: a title and custom_id, 1-5 components, each a labelled text input (or, the
    older form, an action row holding one)."""
    if not 1 <= len(modal.get("title") or "") <= 45 or not 1 <= len(modal.get("custom_id") or "") <= 100:
        raise ApiError(400, 50035, "Invalid Form Body: a modal needs a title (≤ 45) and a custom_id (≤ 100)")
    components = modal.get("components") or []
    if not 1 <= len(components) <= 5:
        raise ApiError(400, 50035, "Invalid Form Body: components: a modal holds 1-5 components")
    for component in components:
        if component.get("type") == LABEL and not 1 <= len(component.get("label") or "") <= 45:
            raise ApiError(400, 50035, "Invalid Form Body: label: Must be between 1 and 45 in length.")
        if component.get("type") not in (LABEL, ACTION_ROW):
            raise ApiError(400, 50035, f"Invalid Form Body: component type {component.get('type')} in a modal")
    for text_input in _text_inputs(components):
        if not 1 <= len(text_input.get("custom_id") or "") <= 100:
            raise ApiError(400, 50035, "Invalid Form Body: custom_id: Must be between 1 and 100 in length.")
        if len(text_input.get("placeholder") or "") > 100 or int(text_input.get("max_length") or 0) > 4000:
            raise ApiError(400, 50035, "Invalid Form Body: placeholder (≤ 100) or max_length (≤ 4000)")


def _text_inputs(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The text inputs of a modal, in either form (labelled, or in action rows)."""
    found = []
    for component in components:
        inner = [component["component"]] if component.get("type") == LABEL else component.get("components") or []
        found += [item for item in inner if item.get("type") == TEXT_INPUT]
    return found


def _submitted(component: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """A modal component as a submission carries it: each text input with its value."""

    def filled(text_input: dict[str, Any]) -> dict[str, Any]:
        value = values.get(text_input["custom_id"], "")
        if text_input.get("required", True) and not value:
            raise AssertionError(f"the client does not submit the required field {text_input['custom_id']!r} empty")
        if text_input.get("max_length") is not None and len(value) > text_input["max_length"]:
            raise AssertionError(f"the client takes at most {text_input['max_length']} characters")
        return {"type": TEXT_INPUT, "custom_id": text_input["custom_id"], "value": value}

    if component.get("type") == LABEL:
        return {"type": LABEL, "component": filled(component["component"])}
    return {"type": ACTION_ROW, "components": [filled(item) for item in component.get("components") or []]}


async def _read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    """JSON, or multipart with ``payload_json`` and ``files[n]`` parts, as discord.py sends them."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        body = json.loads(form["payload_json"]) if "payload_json" in form else {}
        files = [
            Upload(value.filename, value.file.read(), value.content_type)
            for name, value in form.items()
            if name.startswith("files[") and isinstance(value, web.FileField)
        ]
        return body, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), []


def _json_response(value: Any, status: int = 200) -> web.Response:
    """JSON with Discord's exact content type (discord.py compares it literally, so no charset parameter)."""
    body = json.dumps(value, ensure_ascii=False).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


def _snowflake_seconds(snowflake: int) -> float:
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(seconds))


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
