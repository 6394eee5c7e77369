"""``/settings`` end to end on Telegram: aiogram polling the fake Bot API with the real routers, the real
``RedisJobs`` and ``RedisChatSettings`` on a real Redis, the result listener, and (where an answer needs one) the
real worker on the tiny models, run in bursts.

Test code acts as the users of a supergroup: an admin (``getChatMember`` says so) and a plain member.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiogram import Bot

from bot.chat_settings import RedisChatSettings
from bot.config import TelegramSettings
from bot.queue import RedisJobs
from bot.telegram.app import create_bot
from bot.telegram.outbox import TelegramOutbox
from core.keys import chat_settings_key, params_key
from core.protocol import ChatRef, GenerateJob, job_id_for
from handlers.texts import t
from tests import images
from tests.factories import make_molbert, serving_telegram
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage

pytestmark = pytest.mark.asyncio(loop_scope="module")

GROUP = -1008800000001
ADMIN, MEMBER, OTHER_ADMIN = 8801, 8802, 8803
BOT = "@molbert_test_bot"


@pytest_asyncio.fixture(loop_scope="module")
async def telegram():
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
def people(telegram):
    admin = telegram.user(ADMIN, "Админ", language_code="ru")
    telegram.make_admin(GROUP, admin)
    other_admin = telegram.user(OTHER_ADMIN, "Второй админ", language_code="ru")
    telegram.make_admin(GROUP, other_admin)
    return {"admin": admin, "member": telegram.user(MEMBER, "Участник", language_code="ru"), "other": other_admin}


@pytest_asyncio.fixture(loop_scope="module")
async def frontend(telegram, telegram_dispatcher, redis_url, redis_conn):
    """The Telegram frontend in process, as ``python -m bot`` wires it, until the test ends."""
    aredis = aioredis.Redis.from_url(redis_url)
    bot: Bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
    outbox = TelegramOutbox(bot)
    molbert = make_molbert(RedisJobs(redis_conn), settings=RedisChatSettings(redis_conn))
    async with serving_telegram(bot, telegram_dispatcher, molbert, outbox, aredis):
        yield
    await aredis.aclose()


@pytest.fixture
def run_worker(run_worker, no_progress_reports):
    """The shared worker (tests/conftest.py), in this thread (the loop waits meanwhile), with progress reports
    off."""
    return run_worker


def say(telegram: FakeTelegramAPI, user: dict, text: str) -> dict:
    return telegram.send_text(GROUP, user, text, chat_type="supergroup")


async def open_menu(telegram: FakeTelegramAPI, user: dict) -> SentMessage:
    asked = say(telegram, user, f"/settings{BOT}")
    return await telegram.wait_for_message(GROUP, after=asked["message_id"])


async def press(telegram: FakeTelegramAPI, user: dict, message: SentMessage, data: str) -> str:
    """``user`` presses the button ``data`` under ``message``; returns the notice Telegram shows them."""
    query = telegram.press_button(GROUP, user, message.message_id, data)
    answer = await telegram.wait_for_call("answerCallbackQuery", lambda p: p["callback_query_id"] == query["id"])
    return answer.get("text") or ""


async def choose(telegram: FakeTelegramAPI, admin: dict, menu: SentMessage, field: str, value: str) -> None:
    """The admin opens a field's choices and picks ``value``; the menu is redrawn in place each time."""
    await press(telegram, admin, menu, f"cs:{field}")
    assert f"cs:{field}:{value}" in callback_datas(menu), "the choices replace the main menu in place"
    assert await press(telegram, admin, menu, f"cs:{field}:{value}") == t("settings_saved", "ru")


def callback_datas(message: SentMessage) -> list[str]:
    return [button["callback_data"] for row in message.reply_markup["inline_keyboard"] for button in row]


def group_chat(message_id: int) -> ChatRef:
    return ChatRef(platform="telegram", chat_id=GROUP, user_id=0, message_id=message_id)


async def test_an_admin_sets_the_default_style_and_the_next_imagine_carries_it(telegram, people, frontend, redis_conn):
    menu = await open_menu(telegram, people["admin"])
    assert menu.text.startswith(t("settings_title", "ru"))
    assert menu.reply_to_message_id is not None
    await choose(telegram, people["admin"], menu, "style", "аниме")
    assert f"{t('settings_style', 'ru')}: аниме" in menu.text
    assert "cs:style" in callback_datas(menu), "back on the main menu after a choice"

    asked = say(telegram, people["member"], f"/imagine{BOT} кот на крыше")
    await telegram.wait_for_message(GROUP, after=asked["message_id"])
    job_id = job_id_for(group_chat(asked["message_id"]), "imagine")
    job = GenerateJob.model_validate_json(redis_conn.get(params_key(job_id)))
    assert job.style == "аниме" and "в стиле аниме" in job.model_prompt
    assert job.nsfw_threshold is None

    await choose(telegram, people["admin"], menu, "nsfw", "strict")
    asked = say(telegram, people["member"], f"/imagine{BOT} собака --style масло")
    await telegram.wait_for_message(GROUP, after=asked["message_id"])
    job = GenerateJob.model_validate_json(
        redis_conn.get(params_key(job_id_for(group_chat(asked["message_id"]), "imagine")))
    )
    assert (job.style, job.nsfw_threshold) == ("масло", 0.25), "the prompt's own style wins"


async def test_a_private_chat_gets_no_group_only_settings(telegram, people, frontend):
    user = people["member"]
    asked = telegram.send_text(user["id"], user, "/settings")
    menu = await telegram.wait_for_message(user["id"], after=asked["message_id"])
    assert "cs:style" in callback_datas(menu) and "cs:lang" in callback_datas(menu)
    assert "cs:classify" not in callback_datas(menu) and "cs:buttons" not in callback_datas(menu)


async def test_a_member_is_refused_and_nothing_changes(telegram, people, frontend, redis_conn):
    refusal = await open_menu(telegram, people["member"])
    assert refusal.text == t("settings_admins_only", "ru") and refusal.reply_markup is None
    menu = await open_menu(telegram, people["admin"])
    await press(telegram, people["admin"], menu, "cs:classify")
    assert await press(telegram, people["member"], menu, "cs:classify:on") == t("settings_admins_only", "ru")
    assert redis_conn.hgetall(chat_settings_key(group_chat(0))) == {}
    assert "cs:classify:on" in callback_datas(menu), "the admin's menu is left as it was"


async def test_a_language_choice_changes_the_next_answer(telegram, people, frontend):
    menu = await open_menu(telegram, people["admin"])
    await press(telegram, people["admin"], menu, "cs:lang")
    assert await press(telegram, people["admin"], menu, "cs:lang:en") == t("settings_saved", "en")
    assert menu.text.startswith(t("settings_title", "en"))
    asked = say(telegram, people["member"], f"/imagine{BOT}")  # a Russian-speaking user, no prompt
    answer = await telegram.wait_for_message(GROUP, after=asked["message_id"])
    assert answer.text == t("imagine_empty", "en")


async def test_plain_group_photos_are_classified_only_when_the_chat_turned_it_on(
    telegram, people, frontend, run_worker
):
    plain = telegram.send_photo(GROUP, people["member"], images.png(48, 48), chat_type="supergroup")
    probe = say(telegram, people["member"], f"/help{BOT}")
    await telegram.wait_for_message(GROUP, after=probe["message_id"])  # the bot has seen the photo before it
    assert plain["message_id"] not in {m.reply_to_message_id for m in telegram.messages(GROUP)}

    menu = await open_menu(telegram, people["admin"])
    await choose(telegram, people["admin"], menu, "classify", "on")
    sent = telegram.send_photo(
        GROUP, people["member"], images.png(48, 48), caption="смотрите, что у меня", chat_type="supergroup"
    )
    status = await telegram.wait_for_message(GROUP, after=sent["message_id"])
    assert status.reply_to_message_id == sent["message_id"] and status.text.startswith("⏳")
    run_worker()
    answer = await telegram.wait_for_text(GROUP, "%", after=sent["message_id"], timeout=60)
    assert answer.reply_to_message_id == sent["message_id"]
    assert "смотрите" not in answer.text, "a caption not addressed to the bot is not a label list"


async def test_who_may_press_result_buttons(telegram, people, frontend, run_worker):
    asked = say(telegram, people["member"], f"/imagine{BOT} маяк")
    await telegram.wait_for_message(GROUP, after=asked["message_id"])
    run_worker()
    picture = await telegram.wait_for_photo(GROUP, after=asked["message_id"], timeout=60)
    reroll = picture.reply_markup["inline_keyboard"][-1][0]["callback_data"]

    # the default: the requester only — even an admin is refused
    assert await press(telegram, people["other"], picture, reroll) == t("button_not_yours", "ru")
    menu = await open_menu(telegram, people["admin"])
    await choose(telegram, people["admin"], menu, "buttons", "admins")
    stranger = telegram.user(8804, "Прохожий", language_code="ru")
    assert await press(telegram, stranger, picture, reroll) == t("button_not_yours_admins", "ru")
    assert await press(telegram, people["other"], picture, reroll) == t("button_accepted", "ru")
    await choose(telegram, people["admin"], menu, "buttons", "requester")
    assert await press(telegram, stranger, picture, reroll) == t("button_not_yours", "ru")
