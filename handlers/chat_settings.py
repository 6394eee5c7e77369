"""Per-chat settings (``/settings``): what a chat's admins choose for everyone in it, and its button menu.

Every setting is one field with a closed list of values (strings, so they store as a Redis hash and travel in a
button's ``action``). The menu is neutral :class:`~handlers.ports.Button` rows; their actions are
``cs`` (the main menu), ``cs:<field>`` (the choices for one field) and ``cs:<field>:<value>`` (choose a value),
each at most ``ACTION_MAX_BYTES``. Anything else — forged, or from an older menu — parses to ``None``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from core.protocol import ChatRef
from handlers.options import ImagineRequest
from handlers.ports import ACTION_MAX_BYTES, Button, Keyboard
from handlers.styles import STYLES, Style, english_name, find_style
from handlers.texts import LANGUAGES, t

log = logging.getLogger(__name__)

UNSET = "-"  # no chat-wide choice: the user's own (prompt options, Telegram language)
ACTION_PREFIX = "cs"
STRICT, NORMAL, RELAXED = "strict", "normal", "relaxed"
EVERYONE, REQUESTER, ADMINS = "all", "requester", "admins"

# field → its values, in menu order
CHOICES: dict[str, tuple[str, ...]] = {
    "style": (UNSET, *(style.name for style in STYLES)),
    "aspect": (UNSET, "1:1", "3:2", "2:3", "4:3", "16:9", "9:16"),
    "images": (UNSET, "1", "2", "3", "4"),  # pictures per /imagine that names no --n (UNSET: the bot's default)
    "nsfw": (STRICT, NORMAL, RELAXED),
    "classify": ("off", "on"),
    "buttons": (REQUESTER, ADMINS, EVERYONE),
    "lang": (UNSET, *LANGUAGES),
    "feedback": ("on", "off"),  # collect 👍/👎 and U/V/🔄 presses (handlers/feedback.py)
    "enhance": ("off", "ask", "always"),  # ✨: off = only --enhance and the ✨ button; ask = a hint too; always
}
ALL_FIELDS: tuple[str, ...] = tuple(CHOICES)
GROUP_ONLY_FIELDS = frozenset({"classify", "buttons"})  # a private chat has one user, who sees every photo there
PRIVATE_FIELDS: tuple[str, ...] = tuple(name for name in ALL_FIELDS if name not in GROUP_ONLY_FIELDS)
_RAW_LABELS = frozenset({"aspect", "images"})  # values shown as they are (ratios, counts)
_PER_ROW = 3


@dataclass(frozen=True)
class ChatSettings:
    """One chat's settings; each field holds one of its ``CHOICES``. The defaults are the bot's behaviour."""

    style: str = UNSET
    aspect: str = UNSET
    images: str = UNSET
    nsfw: str = NORMAL
    classify: str = "off"
    buttons: str = REQUESTER
    lang: str = UNSET
    feedback: str = "on"
    enhance: str = "off"

    @classmethod
    def from_stored(cls, stored: Mapping[str | bytes, str | bytes] | Mapping[str, str]) -> ChatSettings:
        """Settings from stored fields; unknown fields and values no longer offered fall back to the default."""
        values = {_text(name): _text(value) for name, value in stored.items()}
        known = {name: value for name, value in values.items() if name in CHOICES and value in CHOICES[name]}
        return cls(**known)

    def stored(self) -> dict[str, str]:
        """The fields as stored (every one, defaults included)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}

    def changed(self, name: str, value: str) -> ChatSettings:
        """A copy with ``name`` set to ``value``; ``ValueError`` for a field or value that is not offered."""
        if value not in CHOICES.get(name, ()):
            raise ValueError(f"{name}={value!r} is not a chat setting")
        return replace(self, **{name: value})

    @property
    def auto_classify(self) -> bool:
        """Whether every photo in a group is classified, not only those addressed to the bot."""
        return self.classify == "on"

    def default_style(self) -> Style | None:
        """The style ``/imagine`` uses when the prompt names none."""
        return None if self.style == UNSET else find_style(self.style)

    def default_aspect(self) -> tuple[int, int] | None:
        """The aspect ratio ``/imagine`` uses when the prompt gives none."""
        if self.aspect == UNSET:
            return None
        width, height = self.aspect.split(":")
        return int(width), int(height)

    def default_images(self) -> int | None:
        """The number of pictures ``/imagine`` paints when the request names none (``None``: the bot's default)."""
        return None if self.images == UNSET else int(self.images)

    @property
    def always_enhance(self) -> bool:
        """✨: every ``/imagine`` in this chat is painted from an enhanced description."""
        return self.enhance == "always"

    @property
    def offer_enhance(self) -> bool:
        """✨: results painted from the words as typed carry a one-line hint at the ✨ button."""
        return self.enhance == "ask"

    def language(self, own: str) -> str:
        """The language of the bot's answers in this chat: the chat's choice, else the user's ``own``."""
        return own if self.lang == UNSET else self.lang

    @property
    def collects_feedback(self) -> bool:
        """Whether 👍/👎 and U/V/🔄 presses in this chat are recorded (``/settings``; on by default)."""
        return self.feedback == "on"

    def nsfw_threshold(self, base: float) -> float | None:
        """The image check's threshold for jobs from this chat; ``None`` keeps the worker's own (``base``).

        ``strict`` halves the operator's threshold, ``relaxed`` moves it halfway to 1 (0.5 → 0.25 / 0.75).
        """
        if self.nsfw == STRICT:
            return round(base / 2, 4)
        if self.nsfw == RELAXED:
            return round((base + 1) / 2, 4)
        return None


def with_defaults(request: ImagineRequest, settings: ChatSettings, images: int | None = None) -> ImagineRequest:
    """``request`` with the chat's default style, aspect ratio and number of pictures where the prompt gave none.

    ``images``: the operator's default number (``BOT_DEFAULT_IMAGES``) for a chat that chose none; with neither the
    count stays ``None`` and the worker paints its generator's default. A default never exceeds ``--best``.
    """
    count = request.count or settings.default_images() or images
    if request.count is None and count is not None and request.best_of is not None:
        count = min(count, request.best_of)
    return replace(
        request,
        style=request.style or settings.default_style(),
        aspect=request.aspect or settings.default_aspect(),
        count=count,
        enhance=request.enhance or settings.always_enhance,
    )


class MemoryChatSettings:
    """A :class:`~handlers.ports.ChatSettingsStore` kept in dicts, for tests (the bot keeps its in Redis)."""

    def __init__(self) -> None:
        self.chats: dict[tuple[str, str], dict[str, str]] = {}
        self.moves: dict[tuple[str, str], str] = {}
        self.label_sets: dict[tuple[str, str], list[str]] = {}

    async def load(self, chat: ChatRef) -> ChatSettings:
        """The chat's settings."""
        return ChatSettings.from_stored(self.chats.get(_chat_key(chat), {}))

    async def save(self, chat: ChatRef, name: str, value: str) -> None:
        """Set one field."""
        ChatSettings().changed(name, value)
        self.chats.setdefault(_chat_key(chat), {})[name] = value

    async def move(self, chat: ChatRef, new_chat_id: int | str) -> None:
        """Copy the settings to ``new_chat_id`` (its own choices win) and remember the move."""
        moved = chat.model_copy(update={"chat_id": new_chat_id, "thread_id": None, "parent_ids": ()})
        self.chats[_chat_key(moved)] = {**self.chats.get(_chat_key(chat), {}), **self.chats.get(_chat_key(moved), {})}
        self.moves[_chat_key(chat)] = str(new_chat_id)

    async def moved_to(self, chat: ChatRef) -> str | None:
        """Where the chat moved, if it did."""
        return self.moves.get(_chat_key(chat))

    async def labels(self, chat: ChatRef) -> list[str] | None:
        """The chat's label set, if its admins chose one."""
        return self.label_sets.get(_chat_key(chat))

    async def set_labels(self, chat: ChatRef, labels: list[str] | None) -> None:
        """Store or forget the chat's label set."""
        if labels is None:
            self.label_sets.pop(_chat_key(chat), None)
        else:
            self.label_sets[_chat_key(chat)] = list(labels)


@dataclass(frozen=True)
class MenuAction:
    """A parsed menu action: the main menu (no field), one field's choices (no value), or a choice."""

    field: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class Menu:
    """What to show: ``text`` with ``buttons`` (a menu), or only ``text`` (a refusal or a notice)."""

    text: str
    buttons: Keyboard | None = None


def parse_action(action: str | None) -> MenuAction | None:
    """The menu action a button carries, or ``None`` for anything the menu does not offer."""
    parts = (action or "").split(":", 2)
    if parts[0] != ACTION_PREFIX or len((action or "").encode()) > ACTION_MAX_BYTES:
        return None
    if len(parts) == 1:
        return MenuAction()
    if parts[1] not in CHOICES:
        return None
    if len(parts) == 2:
        return MenuAction(parts[1])
    return MenuAction(parts[1], parts[2]) if parts[2] in CHOICES[parts[1]] else None


def is_menu_action(action: str | None) -> bool:
    """Whether ``action`` is meant for the settings menu (valid or not), not for a result's buttons."""
    return action == ACTION_PREFIX or (action or "").startswith(ACTION_PREFIX + ":")


def value_label(name: str, value: str, lang: str) -> str:
    """How a value reads in the menu: ``аниме`` / ``anime``, ``16:9``, ``строгий`` / ``strict``…"""
    if name in _RAW_LABELS and value != UNSET:
        return value
    if name == "style" and value != UNSET:
        style = find_style(value)
        return value if lang == "ru" or style is None else english_name(style)
    return t(f"settings_{name}_{'unset' if value == UNSET else value}", lang)


def main_menu(settings: ChatSettings, lang: str, shown: tuple[str, ...] = ALL_FIELDS) -> Menu:
    """The current value of each field in ``shown``, and a button per field that opens its choices."""
    lines = [t("settings_title", lang)]
    lines += [f"{t(f'settings_{name}', lang)}: {value_label(name, getattr(settings, name), lang)}" for name in shown]
    lines.append(t("settings_choose", lang))
    buttons = [Button(t(f"settings_button_{name}", lang), _action(name)) for name in shown]
    return Menu("\n".join(lines), _rows(buttons, 2))


def field_menu(settings: ChatSettings, name: str, lang: str) -> Menu:
    """The choices for one field (the current one ticked) and a way back."""
    current = getattr(settings, name)
    text = t("settings_field_menu", lang, field=t(f"settings_{name}", lang), value=value_label(name, current, lang))
    choices = [
        Button(("✓ " if value == current else "") + value_label(name, value, lang), _action(name, value))
        for value in CHOICES[name]
    ]
    return Menu(text, [*_rows(choices, _PER_ROW), [Button(t("settings_back", lang), ACTION_PREFIX)]])


def _action(*parts: str) -> str:
    action = ":".join((ACTION_PREFIX, *parts))
    if len(action.encode()) > ACTION_MAX_BYTES:
        raise ValueError(f"settings action over {ACTION_MAX_BYTES} bytes: {action}")
    return action


def _rows(buttons: list[Button], per_row: int) -> Keyboard:
    return [buttons[start : start + per_row] for start in range(0, len(buttons), per_row)]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _chat_key(chat: ChatRef) -> tuple[str, str]:
    return chat.platform, str(chat.settings_chat_id)
