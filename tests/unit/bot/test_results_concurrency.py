"""The result listener serves chats concurrently and each chat in order: a chat waiting for its turn (Telegram
pacing here) does not hold up another chat's picture, and one chat's progress and result keep their order.

The frontend's real pieces in process: ``ResultListener``, ``TelegramOutbox`` and the ``Bot`` from ``create_bot``
(retry and pacing middlewares), against the fake Bot API and a real Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.config import TelegramSettings
from bot.results import ResultListener
from bot.telegram.app import create_bot
from bot.telegram.outbox import TelegramOutbox
from core.keys import image_key, result_stream, status_message_key
from core.protocol import ChatRef, GenerateJob, ResultEvent
from tests import images
from tests.fakes.telegram_api import FakeTelegramAPI

ALICE, BOB = 6101, 6102
STREAM = result_stream("telegram")


@pytest.fixture
async def telegram():
    async with FakeTelegramAPI() as fake:
        fake.user(ALICE, "Алиса")
        fake.user(BOB, "Боб")
        yield fake


@pytest.fixture
async def bot(telegram):
    bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
    yield bot
    await bot.session.close()


@pytest.fixture
async def listener(bot, aredis):
    results = ResultListener(aredis, "telegram", TelegramOutbox(bot), block_ms=50)
    task = asyncio.create_task(results.run())
    yield results
    results.stop()
    await asyncio.wait_for(task, 15)


def chat(user_id: int) -> ChatRef:
    return ChatRef(platform="telegram", chat_id=user_id, user_id=user_id)


async def publish(aredis, event: ResultEvent) -> None:
    await aredis.xadd(STREAM, {"event": event.model_dump_json()})


async def picture(aredis, user_id: int, n: int) -> ResultEvent:
    job_id = f"telegram-imagine-{user_id}-{n}"
    await aredis.set(image_key(job_id, 0), images.png(64, 64))
    return ResultEvent(
        job_id=job_id,
        kind="imagine",
        chat=chat(user_id),
        generation=GenerateJob(chat=chat(user_id), prompt="маяк", seed=n),
        model="tiny",
        seconds=0.1,
        image_keys=[image_key(job_id, 0)],
    )


def photo_arrivals(telegram, user_id: int) -> list[float]:
    return [when for when, params in telegram.timed_calls_to("sendPhoto") if params["chat_id"] == user_id]


async def test_a_chat_waiting_for_its_turn_does_not_hold_up_another_chat(telegram, bot, listener, aredis, caplog):
    caplog.set_level(logging.INFO, logger="bot.results")
    for n in range(3):  # Alice's chat has used its three messages for the next three seconds
        await bot.send_message(chat_id=ALICE, text=f"сообщение {n}")
    published = time.monotonic()
    await publish(aredis, await picture(aredis, ALICE, 1))
    await publish(aredis, await picture(aredis, BOB, 2))

    await telegram.wait_for_photo(BOB, timeout=10)
    await telegram.wait_for_photo(ALICE, timeout=10)
    [bob], [alice] = photo_arrivals(telegram, BOB), photo_arrivals(telegram, ALICE)
    assert bob - published < 1.0, "Bob's picture waited for Alice's chat"
    assert alice - published > 2.0  # Alice's did wait for her chat's turn
    assert bob < alice
    await listener.wait_delivered()
    waited = {r.chat: r.rate_limit_ms for r in caplog.records if getattr(r, "event", None) == "job_delivered"}
    assert waited[str(BOB)] < 100  # the delivery log tells the pacing wait apart from the system's own time
    assert waited[str(ALICE)] > 2000


async def test_one_chats_progress_and_result_stay_in_order(telegram, bot, listener, aredis):
    status = await bot.send_message(chat_id=ALICE, text="⏳ в очереди")
    result = await picture(aredis, ALICE, 3)
    await aredis.set(status_message_key(result.job_id), str(status.message_id))
    progress = ResultEvent(job_id=result.job_id, kind="progress", chat=chat(ALICE), progress=0.5, seconds=1.0)
    await publish(aredis, progress)
    await publish(aredis, result)

    await telegram.wait_for_photo(ALICE, timeout=10)
    await listener.wait_delivered()
    methods = [name for name, params in telegram.calls if params.get("chat_id") == ALICE]
    assert methods == ["sendMessage", "editMessageText", "sendPhoto", "deleteMessage"]
