"""Painting from a photo in Telegram, in process: aiogram polling the fake Bot API with the real routers, the real
``RedisJobs`` and result listener on a real Redis, and the real worker on the tiny models. The check is what reaches
the model's pipeline: the user's photo, the strength, the prompt."""

from __future__ import annotations

import io

import pytest
from aiogram import Bot
from PIL import Image
from rq import Queue
from rq.serializers import JSONSerializer

from bot.config import TelegramSettings
from bot.queue import RedisJobs
from bot.telegram.app import create_bot, create_dispatcher
from bot.telegram.outbox import TelegramOutbox
from core.protocol import GENERATE_QUEUE
from handlers.images import normalize_image
from handlers.texts import t
from models.generator import ImageGenerator
from tests import images
from tests.factories import make_molbert, serving_telegram
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegramAPI

ALICE, GROUP = 8001, -1008000000001
RESULT_TIMEOUT = 60


@pytest.fixture
async def telegram():
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
async def frontend(telegram, redis_conn, aredis):
    """aiogram polling the fake with the real routers, and the result listener, until the test ends (a dispatcher
    per test: aiogram binds it to the event loop it first polled in)."""
    telegram_dispatcher = create_dispatcher()
    bot: Bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
    outbox = TelegramOutbox(bot)
    molbert = make_molbert(RedisJobs(redis_conn))
    async with serving_telegram(bot, telegram_dispatcher, molbert, outbox, aredis):
        yield


@pytest.fixture
def pipeline_calls(monkeypatch) -> list[dict]:
    """The keyword arguments of every call of a generator's pipeline (the real call still runs)."""
    calls: list[dict] = []
    real_run = ImageGenerator._run

    def spy(self, pipe, params, kwargs, *args, **more):
        calls.append(dict(kwargs))
        return real_run(self, pipe, params, kwargs, *args, **more)

    monkeypatch.setattr(ImageGenerator, "_run", spy)
    return calls


def gradient(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def assert_painted_from(call: dict, sent: bytes, strength: float) -> None:
    """The pipeline started from ``sent`` (as the frontend checks it and the worker sizes it), at ``strength``."""
    first = call["image"][0]
    expected = Image.open(io.BytesIO(normalize_image(sent))).convert("RGB").resize(first.size)
    assert first.tobytes() == expected.tobytes(), "the pipeline starts from the user's photo"
    assert call["strength"] == strength


async def paint(telegram, run_worker, chat_id: int, asked: dict) -> object:
    """Wait for the "queued" message, run the worker, and return the picture sent back."""
    status = await telegram.wait_for_message(chat_id, after=asked["message_id"])
    assert status.text.startswith("⏳"), status.text
    run_worker()  # in this thread: the event loop and the fake wait meanwhile
    return await telegram.wait_for_photo(chat_id, after=asked["message_id"], timeout=RESULT_TIMEOUT)


async def test_a_photo_captioned_imagine_is_painted_from(telegram, frontend, run_worker, pipeline_calls, tiny_models):
    alice = telegram.user(ALICE, "Алиса")
    sent = gradient(300, 150)
    asked = telegram.send_photo(ALICE, alice, sent, caption="/нарисуй кот в шляпе --сила 0.3 --n 2")
    result = await paint(telegram, run_worker, ALICE, asked)
    [call] = pipeline_calls
    assert_painted_from(call, sent, 0.3)
    assert call["prompt"] == [tiny_models.generator_words("кот в шляпе", None)[0]] * 2
    assert result.reply_to_message_id == asked["message_id"]
    assert "--strength 0.3" in result.caption and t("imagine_from_photo", "ru", strength="0.3") in result.caption


async def test_an_image_file_captioned_imagine_is_painted_from(telegram, frontend, run_worker, pipeline_calls):
    alice = telegram.user(ALICE, "Алиса")
    sent = gradient(160, 240)
    asked = telegram.send_document(ALICE, alice, sent, "photo.png", "image/png", caption="/imagine маяк")
    await paint(telegram, run_worker, ALICE, asked)
    [call] = pipeline_calls
    assert_painted_from(call, sent, 0.6)
    width, height = call["image"][0].size
    assert height > width, "the photo's portrait shape"


async def test_imagine_in_reply_to_a_photo_in_a_group_paints_from_it(telegram, frontend, run_worker, pipeline_calls):
    alice = telegram.user(ALICE, "Алиса")
    sent = gradient(200, 200)
    shared = telegram.send_photo(GROUP, alice, sent, chat_type="supergroup")
    asked = telegram.send_text(
        GROUP,
        alice,
        f"/imagine@{BOT_USERNAME} то же, но зимой --strength 0.5",
        reply_to_message_id=shared["message_id"],
        chat_type="supergroup",
    )
    await paint(telegram, run_worker, GROUP, asked)
    [call] = pipeline_calls
    assert_painted_from(call, sent, 0.5)


async def test_a_broken_photo_is_answered_and_nothing_is_queued(telegram, frontend, redis_conn):
    alice = telegram.user(ALICE, "Алиса")
    asked = telegram.send_document(
        ALICE, alice, images.truncated(images.png(256, 256)), "cut.png", "image/png", caption="/imagine кот"
    )
    answer = await telegram.wait_for_message(ALICE, after=asked["message_id"])
    assert answer.text == t("image_unreadable", "ru")
    assert not redis_conn.keys("molbert:photo:*")


async def test_imagine_in_reply_to_the_bots_own_picture_is_a_plain_request(
    telegram, frontend, run_worker, redis_conn, pipeline_calls
):
    alice = telegram.user(ALICE, "Алиса")
    result = await paint(telegram, run_worker, ALICE, telegram.send_text(ALICE, alice, "/imagine кот"))
    asked = telegram.send_text(ALICE, alice, "/imagine собака", reply_to_message_id=result.message_id)
    await telegram.wait_for_message(ALICE, after=asked["message_id"])
    [job] = Queue(GENERATE_QUEUE, connection=redis_conn, serializer=JSONSerializer).jobs
    assert (job.args[0]["prompt"], job.args[0]["photo_key"]) == ("собака", None)


async def test_imagine_in_reply_to_a_u_image_paints_from_that_picture(telegram, frontend, run_worker, pipeline_calls):
    alice = telegram.user(ALICE, "Алиса")
    grid = await paint(telegram, run_worker, ALICE, telegram.send_text(ALICE, alice, "/imagine кот --n 2"))
    telegram.press_button(ALICE, alice, grid.message_id, grid.reply_markup["inline_keyboard"][0][1]["callback_data"])
    single = await telegram.wait_for_photo(ALICE, after=grid.message_id)
    await telegram.wait_for_document(ALICE, after=single.message_id)  # the U press is served
    asked = telegram.send_text(ALICE, alice, "/imagine собака --strength 0.5", reply_to_message_id=single.message_id)
    await paint(telegram, run_worker, ALICE, asked)
    assert_painted_from(pipeline_calls[-1], single.photo, 0.5)
