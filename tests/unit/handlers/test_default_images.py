"""How many pictures a bare ``/imagine`` asks for: ``--n``, else the chat's ``/settings`` row, else the operator's
``BOT_DEFAULT_IMAGES``, else none named (the worker paints its generator's default, tests/unit/workers)."""

from __future__ import annotations

from functools import partial

import pytest

from handlers import chat_settings
from handlers.chat_settings import ChatSettings, field_menu, main_menu, parse_action
from handlers.texts import t
from tests import factories
from tests.factories import make_molbert
from tests.memory import MemoryJobs, MemoryOutbox

chat = partial(factories.chat, platform="memory")


async def asked(text: str, *, chat_choice: str | None = None, operator: int | None = None) -> int | None:
    """The number of pictures the job for ``/imagine <text>`` names."""
    jobs, outbox = MemoryJobs(), MemoryOutbox()
    molbert = make_molbert(jobs)
    molbert.default_images = operator
    if chat_choice is not None:
        await molbert.settings_store.save(chat(), "images", chat_choice)
    job_id = await molbert.imagine(chat(), text, outbox)
    assert job_id is not None, outbox.texts
    return jobs.jobs[job_id].num_images


@pytest.mark.parametrize(
    ("text", "chat_choice", "operator", "expected"),
    [
        ("кот", None, None, None),  # the worker's generator decides
        ("кот", None, 3, 3),  # the operator's BOT_DEFAULT_IMAGES
        ("кот", "2", 3, 2),  # the chat's /settings win over the operator
        ("кот", chat_settings.UNSET, 3, 3),  # "the bot's default" is the operator's
        ("кот --n 1", "4", 3, 1),  # the request's own --n wins over both
        ("кот --best 2", "4", None, 2),  # a default never asks for more than --best paints
    ],
)
async def test_the_count_comes_from_n_then_the_chat_then_the_operator(text, chat_choice, operator, expected):
    assert await asked(text, chat_choice=chat_choice, operator=operator) == expected


def test_the_settings_menu_has_a_pictures_row():
    menu = main_menu(ChatSettings(images="4"), "ru")
    assert f"{t('settings_images', 'ru')}: 4" in menu.text
    assert parse_action("cs:images:3") == chat_settings.MenuAction("images", "3")
    choices = field_menu(ChatSettings(), "images", "en")
    labels = [button.text for row in choices.buttons for button in row]
    assert labels[:5] == ["✓ " + t("settings_images_unset", "en"), "1", "2", "3", "4"]
    assert ChatSettings().changed("images", "2").default_images() == 2
    with pytest.raises(ValueError):
        ChatSettings().changed("images", "5")
