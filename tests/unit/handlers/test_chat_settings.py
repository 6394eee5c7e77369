"""Per-chat settings (``/settings``): parsing, the menu, the use cases in memory, and the Redis store."""

from __future__ import annotations

import json

import pytest

from bot.chat_settings import RedisChatSettings
from core.keys import chat_labels_key, chat_settings_key
from core.protocol import ChatRef, GenerateJob
from handlers import chat_settings
from handlers.chat_settings import ALL_FIELDS, CHOICES, ChatSettings, MemoryChatSettings, parse_action
from handlers.errors import QueueUnavailable
from handlers.options import command_line
from handlers.ports import ACTION_MAX_BYTES
from handlers.texts import t
from tests.factories import make_molbert
from tests.memory import MemoryJobs

GROUP = ChatRef(platform="telegram", chat_id=-100777, user_id=42, message_id=5, lang="ru")
OTHER = GROUP.model_copy(update={"user_id": 43, "message_id": 9})


def actions(menu) -> list[str]:
    return [button.action for row in menu.buttons for button in row]


# --- the settings themselves ---------------------------------------------------------------------------------


def test_defaults_are_the_bots_behaviour_without_settings():
    settings = ChatSettings()
    assert settings.default_style() is None and settings.default_aspect() is None
    assert settings.nsfw_threshold(0.5) is None, "normal keeps the worker's own threshold"
    assert settings.auto_classify is False
    assert settings.buttons == chat_settings.REQUESTER
    assert settings.language("en") == "en"


def test_values_become_what_the_use_cases_need():
    settings = ChatSettings(style="акварель", aspect="16:9", nsfw="strict", classify="on", lang="en")
    assert settings.default_style().name == "акварель"
    assert settings.default_aspect() == (16, 9)
    assert settings.nsfw_threshold(0.5) == 0.25
    assert settings.changed("nsfw", "relaxed").nsfw_threshold(0.5) == 0.75
    assert settings.auto_classify is True
    assert settings.language("ru") == "en"


def test_stored_fields_round_trip_and_bad_ones_fall_back_to_defaults():
    settings = ChatSettings(style="аниме", buttons="all")
    assert ChatSettings.from_stored(settings.stored()) == settings
    stored = {b"style": "барокко".encode(), b"nsfw": b"off", b"buttons": b"admins", b"colour": b"red"}
    assert ChatSettings.from_stored(stored) == ChatSettings(buttons="admins")


def test_changing_to_a_value_not_offered_is_refused():
    with pytest.raises(ValueError):
        ChatSettings().changed("nsfw", "none")
    with pytest.raises(ValueError):
        ChatSettings().changed("colour", "red")


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("cs", chat_settings.MenuAction()),
        ("cs:style", chat_settings.MenuAction("style")),
        ("cs:style:пиксель-арт", chat_settings.MenuAction("style", "пиксель-арт")),
        ("cs:aspect:16:9", chat_settings.MenuAction("aspect", "16:9")),
        ("cs:lang:-", chat_settings.MenuAction("lang", "-")),
    ],
)
def test_menu_actions_parse(action, expected):
    assert parse_action(action) == expected


@pytest.mark.parametrize(
    "action",
    ["", "cs:", "cs:colour", "cs:style:барокко", "cs:nsfw:off", "cs:lang:de", "u:job:1", "csx", "cs:style:" + "я" * 40],
)
def test_forged_menu_actions_parse_to_none(action):
    assert parse_action(action) is None


def test_every_menu_button_fits_telegram_and_parses_back():
    settings = ChatSettings()
    menus = [chat_settings.main_menu(settings, "ru")]
    menus += [chat_settings.field_menu(settings, name, lang) for name in ALL_FIELDS for lang in ("ru", "en")]
    for menu in menus:
        assert len(menu.buttons) <= 5 and all(len(row) <= 5 for row in menu.buttons), "Discord: 5 rows of 5"
        for action in actions(menu):
            assert len(action.encode()) <= ACTION_MAX_BYTES
            assert parse_action(action) is not None


def test_the_menu_shows_current_values_and_ticks_the_chosen_one():
    settings = ChatSettings(style="аниме", classify="on")
    menu = chat_settings.main_menu(settings, "ru")
    assert f"{t('settings_style', 'ru')}: аниме" in menu.text
    assert f"{t('settings_classify', 'ru')}: {t('settings_classify_on', 'ru')}" in menu.text
    assert actions(menu) == [f"cs:{name}" for name in ALL_FIELDS]
    english = chat_settings.field_menu(settings, "style", "en")
    labels = [button.text for row in english.buttons for button in row]
    assert "✓ anime" in labels and "watercolor" in labels and labels[-1] == t("settings_back", "en")
    assert [a for a in actions(english)][:-1] == [f"cs:style:{value}" for value in CHOICES["style"]]


# --- the use cases -------------------------------------------------------------------------------------------


@pytest.fixture
def molbert(jobs):
    return make_molbert(jobs)


async def test_admins_get_the_menu_and_members_a_refusal(molbert):
    menu = await molbert.settings(GROUP, is_admin=True)
    assert menu.text.startswith(t("settings_title", "ru")) and menu.buttons
    refusal = await molbert.settings(GROUP, is_admin=False)
    assert (refusal.text, refusal.buttons) == (t("settings_admins_only", "ru"), None)


async def test_a_press_opens_choices_then_saves_and_redraws(molbert):
    notice, menu = await molbert.settings_press(GROUP, "cs:style", is_admin=True)
    assert notice == "" and "cs:style:аниме" in actions(menu)
    notice, menu = await molbert.settings_press(GROUP, "cs:style:аниме", is_admin=True)
    assert notice == t("settings_saved", "ru")
    assert f"{t('settings_style', 'ru')}: аниме" in menu.text
    assert (await molbert.settings_of(GROUP)).style == "аниме"
    notice, menu = await molbert.settings_press(GROUP, "cs", is_admin=True)
    assert menu.text == chat_settings.main_menu(ChatSettings(style="аниме"), "ru").text


async def test_a_member_pressing_an_admins_menu_changes_nothing(molbert):
    notice, menu = await molbert.settings_press(OTHER, "cs:nsfw:relaxed", is_admin=False)
    assert (notice, menu) == (t("settings_admins_only", "ru"), None)
    assert await molbert.settings_of(GROUP) == ChatSettings()


@pytest.mark.parametrize("action", ["cs:nsfw:off", "cs:colour:red", "cs:style:барокко", "garbage"])
async def test_forged_presses_are_answered_politely_and_change_nothing(molbert, action):
    notice, menu = await molbert.settings_press(GROUP, action, is_admin=True)
    assert (notice, menu) == (t("settings_stale", "ru"), None)
    assert await molbert.settings_of(GROUP) == ChatSettings()


async def test_a_field_a_platform_does_not_show_cannot_be_pressed(molbert):
    shown = tuple(name for name in ALL_FIELDS if name != "classify")
    assert "cs:classify" not in actions(await molbert.settings(GROUP, True, shown))
    notice, _menu = await molbert.settings_press(GROUP, "cs:classify:on", True, shown)
    assert notice == t("settings_stale", "ru")


async def test_a_language_choice_answers_in_it_at_once_and_unset_gives_users_theirs(molbert, outbox):
    notice, menu = await molbert.settings_press(GROUP, "cs:lang:en", is_admin=True)
    assert notice == t("settings_saved", "en") and menu.text.startswith(t("settings_title", "en"))
    await molbert.help(GROUP, outbox)
    assert outbox.sent[-1].text == t("help", "en")
    await molbert.settings_press(GROUP.model_copy(update={"lang": "en"}), "cs:lang:-", is_admin=True)
    await molbert.help(GROUP, outbox)
    assert outbox.sent[-1].text == t("help", "ru")


async def test_imagine_takes_the_chats_defaults_unless_the_prompt_says_otherwise(molbert, jobs, outbox):
    store = molbert.settings_store
    for name, value in (("style", "аниме"), ("aspect", "16:9"), ("nsfw", "strict")):
        await store.save(GROUP, name, value)
    job_id = await molbert.imagine(GROUP, "кот", outbox)
    job = jobs.jobs[job_id]
    assert (job.style, job.aspect, job.nsfw_threshold) == ("аниме", (16, 9), 0.25)
    assert "аниме" in job.model_prompt
    own = await molbert.imagine(OTHER, "кот --style масло --ar 1:1", outbox)
    assert (jobs.jobs[own].style, jobs.jobs[own].aspect) == ("масло", (1, 1))
    plain = jobs.jobs[await molbert.imagine(OTHER.model_copy(update={"message_id": 10}), "кот --style нет", outbox)]
    assert (plain.model_prompt, plain.model_negative) == ("кот", None), "no style, not even the chat's"
    assert command_line(plain).endswith("--style нет --seed " + str(plain.seed)), "the line repeats it"


async def test_old_payloads_without_a_threshold_stay_valid():
    old = {"chat": GROUP.model_dump(), "prompt": "кот", "seed": 1}
    assert GenerateJob.model_validate(old).nsfw_threshold is None


@pytest.mark.parametrize(
    ("policy", "presser_is_admin", "allowed"),
    [
        ("requester", True, False),
        ("admins", False, False),
        ("admins", True, True),
        ("all", False, True),
    ],
)
async def test_who_may_press_result_buttons(molbert, jobs, outbox, policy, presser_is_admin, allowed):
    job_id = await molbert.imagine(GROUP, "кот", outbox)
    await molbert.settings_store.save(GROUP, "buttons", policy)
    asked = []

    async def is_admin() -> bool:
        asked.append(True)
        return presser_is_admin

    notice = await molbert.press(OTHER, f"r:{job_id}", "press-1", outbox, is_admin=is_admin)
    if allowed:
        assert notice == t("button_accepted", "ru")
    else:
        key = "button_not_yours_admins" if policy == "admins" else "button_not_yours"
        assert notice == t(key, "ru")
    assert bool(asked) == (policy == "admins"), "getChatMember only when admins may press"


async def test_buttons_of_a_job_from_another_chat_do_nothing_even_for_everyone(molbert, outbox):
    """Telegram only sends back buttons that are under a message, but a forged press must not pull one chat's
    picture into another chat whose settings let everyone press."""
    job_id = await molbert.imagine(GROUP, "кот", outbox)
    elsewhere = OTHER.model_copy(update={"chat_id": -100888})
    await molbert.settings_store.save(elsewhere, "buttons", "all")
    assert await molbert.press(elsewhere, f"u:{job_id}:0", "press-9", outbox) == t("button_stale", "ru")


async def test_the_requester_may_always_press(molbert, outbox):
    job_id = await molbert.imagine(GROUP, "кот", outbox)
    notice = await molbert.press(GROUP, f"r:{job_id}", "press-2", outbox)
    assert notice == t("button_accepted", "ru")


AS_THE_GROUP = GROUP.model_copy(update={"user_id": GROUP.chat_id, "message_id": 11, "as_the_chat": True})


@pytest.mark.parametrize(("presser_is_admin", "allowed"), [(True, True), (False, False)])
async def test_a_request_made_as_the_group_is_for_its_admins(molbert, jobs, outbox, presser_is_admin, allowed):
    """An anonymous admin's picture: the admin presses with their own account, so every admin may press."""
    job_id = await molbert.imagine(AS_THE_GROUP, "кот", outbox)

    async def is_admin() -> bool:
        return presser_is_admin

    notice = await molbert.press(OTHER, f"r:{job_id}", "press-3", outbox, is_admin=is_admin)
    assert notice == t("button_accepted" if allowed else "button_not_yours", "ru")


async def test_a_request_made_as_the_group_may_be_cancelled_by_its_admins(redis_conn, outbox):
    from bot.queue import RedisJobs

    molbert = make_molbert(RedisJobs(redis_conn))
    job_id = await molbert.imagine(AS_THE_GROUP, "кот", outbox)

    async def not_admin() -> bool:
        return False

    async def admin() -> bool:
        return True

    assert await molbert.press(OTHER, f"x:{job_id}", "p1", outbox, is_admin=not_admin) == t("cancel_not_yours", "ru")
    assert await molbert.press(OTHER, f"x:{job_id}", "p2", outbox, is_admin=admin) == t("cancel_pressed", "ru")


class BrokenStore(MemoryChatSettings):
    async def load(self, chat):
        raise QueueUnavailable("down")

    async def save(self, chat, name, value):
        raise QueueUnavailable("down")


async def test_an_unreadable_store_means_defaults_and_a_failed_save_is_said(outbox):
    molbert = make_molbert(MemoryJobs(), settings=BrokenStore())
    assert await molbert.settings_of(GROUP) == ChatSettings()
    await molbert.help(GROUP, outbox)
    assert outbox.sent[-1].text == t("help", "ru")
    notice, menu = await molbert.settings_press(GROUP, "cs:nsfw:strict", is_admin=True)
    assert (notice, menu) == (t("queue_unavailable", "ru"), None)


# --- the Redis store -----------------------------------------------------------------------------------------


async def test_redis_store_keeps_one_hash_per_chat(redis_conn):
    store = RedisChatSettings(redis_conn)
    assert await store.load(GROUP) == ChatSettings()
    await store.save(GROUP, "style", "акварель")
    await store.save(GROUP, "classify", "on")
    assert await store.load(GROUP) == ChatSettings(style="акварель", classify="on")
    stored = redis_conn.hgetall(chat_settings_key(GROUP))
    assert stored == {b"style": "акварель".encode(), b"classify": b"on"}
    assert redis_conn.ttl(chat_settings_key(GROUP)) == -1, "kept until changed"
    elsewhere = GROUP.model_copy(update={"platform": "discord"})
    assert await store.load(elsewhere) == ChatSettings()


async def test_redis_store_keeps_a_chats_label_set_under_its_old_key(redis_conn):
    """The label sets moved from the job queue onto this store; those already stored stay where they were."""
    store = RedisChatSettings(redis_conn)
    assert await store.labels(GROUP) is None
    redis_conn.set(f"molbert:chat-labels:telegram:{GROUP.chat_id}", '["кошка", "собака"]')
    assert await store.labels(GROUP) == ["кошка", "собака"]
    await store.set_labels(GROUP, ["море", "лес"])
    assert json.loads(redis_conn.get(chat_labels_key(GROUP))) == ["море", "лес"]
    assert redis_conn.ttl(chat_labels_key(GROUP)) == -1, "kept until reset"
    await store.set_labels(GROUP, None)
    assert await store.labels(GROUP) is None
    assert not redis_conn.exists(chat_labels_key(GROUP))


async def test_redis_store_refuses_values_not_offered_and_reads_old_ones_as_defaults(redis_conn):
    store = RedisChatSettings(redis_conn)
    with pytest.raises(ValueError):
        await store.save(GROUP, "nsfw", "off")
    redis_conn.hset(chat_settings_key(GROUP), mapping={"nsfw": "off", "lang": "en"})
    assert await store.load(GROUP) == ChatSettings(lang="en")


async def test_redis_store_errors_are_queue_unavailable():
    import redis

    store = RedisChatSettings(redis.Redis(unix_socket_path="/nonexistent/redis.sock"))
    with pytest.raises(QueueUnavailable):
        await store.load(GROUP)
    with pytest.raises(QueueUnavailable):
        await store.save(GROUP, "nsfw", "strict")
    with pytest.raises(QueueUnavailable):
        await store.labels(GROUP)
