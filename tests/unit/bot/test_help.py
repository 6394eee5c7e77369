"""The help texts name everything the bot accepts, read from the real registries rather than a list kept by hand: the
commands of Telegram's dispatcher, Discord's synced commands and context menus, the terminal's ``handle_line``, the
``--options`` of ``handlers/options.py`` and the buttons ``handlers/buttons.py`` puts under a result. A command or
option added without a help line fails here.

The Discord fixtures (the fake Discord) are those of ``tests/unit/bot/test_discord.py``."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap

import pytest
from aiogram import Router
from aiogram.filters import Command

from bot.config import DiscordSettings
from bot.console import ConsoleSession
from bot.discord.app import sync_commands
from bot.discord.outbox import CONTENT_LIMIT
from bot.telegram.app import COMMANDS, create_dispatcher
from handlers.buttons import result_keyboard, with_feedback
from handlers.options import OPTION_NAMES
from handlers.texts import EN, RU

pytest_plugins = ["tests.unit.bot.test_discord"]

LANGS = {"ru": RU, "en": EN}
# Left out of the help on purpose: /start greets and points to /help, /help is the help itself, /stats is for the
# bot's operators only (ACCESS_OPERATORS), who read README.md.
NOT_IN_HELP = {"start", "help", "stats"}
TELEGRAM_MESSAGE_LIMIT = 4096  # characters, counted by Telegram in UTF-16 code units


def telegram_commands() -> list[tuple[str, ...]]:
    """Each command filter of the real dispatcher: its names, the canonical one first (``('imagine', 'draw', …)``)."""

    def routers(router: Router):
        yield router
        for child in router.sub_routers:
            yield from routers(child)

    return [
        tuple(f.callback.commands)
        for router in routers(create_dispatcher())
        for handler in router.message.handlers
        for f in handler.filters or []
        if isinstance(f.callback, Command)
    ]


def console_commands() -> set[str]:
    """Every ``/command`` the terminal's ``ConsoleSession.handle_line`` compares a typed line with."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(ConsoleSession.handle_line)))
    found = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return {name[1:] for name in found if re.fullmatch(r"/\w+", name)}


def button_labels() -> set[str]:
    """The labels of every button under a result: a grid, a single picture (⤴, 🔍, arrows), ✨, 👍/👎; numbered
    ones (U1, V2, ~3) by their letter."""
    keyboards = [
        with_feedback(result_keyboard("job", 4), "job"),
        result_keyboard("job", 1, zoom=True, enhance=True),
    ]
    return {re.sub(r"^([UV~])\d+$", r"\1", b.text) for keyboard in keyboards for row in keyboard for b in row}


def names_command(text: str, name: str) -> bool:
    """Whether ``text`` names ``/name`` (not merely a longer command that starts with it: /forget_class)."""
    return re.search(rf"/{re.escape(name)}(?!\w)", text) is not None


def names_option(text: str, name: str) -> bool:
    """Whether ``text`` names ``--name`` (``--n`` is not ``--no``)."""
    return re.search(rf"--{re.escape(name)}(?![\w-])", text) is not None


def cyrillic(name: str) -> bool:
    """Whether a command or option name is a Russian spelling (``нарисуй``, ``сила``)."""
    return re.search(r"[а-яё]", name) is not None


def utf16_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("key", ["help", "console_help"])
def test_the_help_names_every_command_russian_spellings_in_russian(key, lang):
    """/help names each command the Telegram dispatcher (for ``help``) or the terminal (``console_help``) accepts:
    the Russian help every spelling, the English one every Latin spelling."""
    accepted = {n for names in telegram_commands() for n in names} if key == "help" else console_commands()
    accepted -= NOT_IN_HELP
    expected = accepted if lang == "ru" else {n for n in accepted if not cyrillic(n)}
    assert {"imagine", "describe", "teach", "classes", "forget_class", "forget"} <= accepted  # the registry is read
    missing = sorted(n for n in expected if not names_command(LANGS[lang][key], n))
    assert missing == [], f"{key} ({lang}) does not name these commands"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("key", ["help", "console_help", "discord_help"])
def test_the_help_names_every_option_and_russian_spellings_in_russian(key, lang):
    """Each ``--option`` the parser knows is in every help; the Russian help gives a Russian spelling of each that
    has one (``--сила``, ``--увеличить``, ``--улучшить``)."""
    text = LANGS[lang][key]
    missing = [name for name in OPTION_NAMES if not names_option(text, name)]
    if lang == "ru":
        missing += [
            f"{name} (по-русски)"
            for name, spellings in OPTION_NAMES.items()
            if any(cyrillic(s) for s in spellings) and not any(names_option(text, s) for s in spellings if cyrillic(s))
        ]
    assert missing == [], f"{key} ({lang}) does not name these options"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("key", ["help", "console_help", "discord_help"])
def test_the_help_names_every_button_under_a_result(key, lang):
    """U, V, ~, 🔄, 🖋, ✨, ⤴ ×2/×4, 🔍 ×1.5/×2, ⬅️➡️⬆️⬇️ and 👍/👎: each button is explained."""
    labels = button_labels()
    assert {"U", "⤴ ×4", "🔍 ×2", "⬅️", "✨", "👍", "👎"} <= labels  # the keyboards are read
    missing = sorted(label for label in labels if label not in LANGS[lang][key])
    assert missing == [], f"{key} ({lang}) does not explain these buttons"


@pytest.mark.parametrize("lang", LANGS)
def test_the_help_fits_one_message(lang):
    """Telegram takes 4096 characters a message; Discord 2000, and cuts a longer help short."""
    assert utf16_length(LANGS[lang]["help"]) <= TELEGRAM_MESSAGE_LIMIT
    assert len(LANGS[lang]["discord_help"]) <= CONTENT_LIMIT


def test_the_telegram_menu_lists_every_command_for_users():
    """setMyCommands (``COMMANDS``) lists each command's canonical name, with a description in both languages."""
    canonical = {names[0] for names in telegram_commands()} | {"start"}
    assert sorted(set(COMMANDS)) == sorted(canonical - {"stats"})
    missing = [
        f"cmd_{name} ({lang})" for name in COMMANDS for lang, texts in LANGS.items() if f"cmd_{name}" not in texts
    ]
    assert missing == []


async def test_the_discord_help_names_every_command_and_context_menu(fake):
    """Every synced slash command but /help and /stats is in ``discord_help``, and each context menu (right-click →
    Apps) by its name in that language; each has its description in both languages."""
    await sync_commands(DiscordSettings(token=fake.token, api_url=fake.base_url))
    synced = fake.commands["global"]
    slash = {c["name"] for c in synced if c.get("type", 1) == 1}
    assert {"imagine", "describe", "teach", "classes", "forget_class", "forget", "rank"} <= slash
    for lang, texts in LANGS.items():
        help_text = texts["discord_help"]
        missing = sorted(name for name in slash - NOT_IN_HELP if not names_command(help_text, name))
        menus = [c for c in synced if c.get("type", 1) != 1]
        names = [c["name"] if lang == "ru" else c["name_localizations"]["en-US"] for c in menus]
        missing += [f"«{name}»" for name in names if f"«{name}»" not in help_text]
        assert missing == [], f"discord_help ({lang}) does not name these"
    for command in (c for c in synced if c.get("type", 1) == 1):
        assert command["description"] and command["description_localizations"]["en-US"], command["name"]
