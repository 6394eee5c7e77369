"""Telegram failing while a result is delivered: 429 and 5xx are retried, a call that never reached Telegram is
retried, and a message send cut off after it went out is not repeated (at most once; docs/reliability.md).

The frontend's real pieces run in-process: the result listener, ``TelegramOutbox`` and the aiogram ``Bot`` made by
``create_bot`` (with its retry middleware), against the fake Bot API and a real Redis.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import SendPhoto
from aiohttp import ClientConnectorError

from bot.config import TelegramSettings
from bot.results import ResultListener
from bot.telegram.app import create_bot
from bot.telegram.outbox import TelegramOutbox
from bot.telegram.retry import TelegramRetry, UncertainSend, repeatable
from core.keys import delivered_key, image_key, result_stream, status_message_key
from core.protocol import RESULT_STREAM_CONSUMER_GROUP, ChatRef, GenerateJob, ResultEvent
from handlers.texts import t
from tests import images
from tests.fakes.telegram_api import FakeTelegramAPI

STREAM = result_stream("telegram")
USER = 5001


@pytest.fixture
async def telegram():
    async with FakeTelegramAPI() as fake:
        fake.user(USER, "Алиса")
        yield fake


@pytest.fixture
async def listener(telegram, aredis):
    bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
    results = ResultListener(aredis, "telegram", TelegramOutbox(bot), block_ms=50, reclaim_idle_ms=500)
    task = asyncio.create_task(results.run())
    yield results
    results.stop()
    await asyncio.wait_for(task, 10)
    await bot.session.close()


def chat() -> ChatRef:
    return ChatRef(platform="telegram", chat_id=USER, user_id=USER)


async def publish_picture(aredis, job_id: str = "telegram-imagine-5001-1") -> str:
    await aredis.set(image_key(job_id, 0), images.png(64, 64))
    event = ResultEvent(
        job_id=job_id,
        kind="imagine",
        chat=chat(),
        generation=GenerateJob(chat=chat(), prompt="маяк", seed=1),
        model="tiny",
        seconds=1.0,
        image_keys=[image_key(job_id, 0)],
    )
    await aredis.xadd(STREAM, {"event": event.model_dump_json()})
    return job_id


async def publish_error(aredis, job_id: str = "telegram-imagine-5001-2") -> str:
    event = ResultEvent(job_id=job_id, kind="imagine", chat=chat(), ok=False, error_ref="0badf00d")
    await aredis.xadd(STREAM, {"event": event.model_dump_json()})
    return job_id


async def settled(aredis, job_id: str, timeout: float = 30) -> None:
    """Wait until the job is marked delivered and nothing is pending in the stream."""
    async with asyncio.timeout(timeout):
        while not (
            await aredis.exists(delivered_key(job_id))
            and (await aredis.xpending(STREAM, RESULT_STREAM_CONSUMER_GROUP))["pending"] == 0
        ):
            await asyncio.sleep(0.05)


def photos(telegram) -> list:
    return [m for m in telegram.messages(USER) if m.photo is not None]


async def test_progress_sends_nothing_new_once_the_status_was_deleted(telegram, listener, aredis):
    """Someone deleted the "queued" message: progress is dropped (not posted anew on every tick); the result comes
    once, as a new message."""
    job_id = "telegram-imagine-5001-3"
    status = await listener.outbox.send_text(chat(), "⏳")
    await aredis.set(status_message_key(job_id), str(status))
    await listener.outbox.delete_message(chat(), status)
    for share in (0.25, 0.5, 0.75):
        progress = ResultEvent(job_id=job_id, kind="progress", chat=chat(), progress=share, seconds=3)
        await aredis.xadd(STREAM, {"event": progress.model_dump_json()})
    await publish_error(aredis, job_id)
    await settled(aredis, job_id)
    assert [m.text for m in telegram.messages(USER) if not m.deleted] == [t("job_failed", "ru", ref="0badf00d")]


async def test_429_is_waited_out_and_the_picture_sent_once(telegram, listener, aredis):
    telegram.fail_next("sendPhoto", 429, retry_after=2)
    started = time.monotonic()
    job_id = await publish_picture(aredis)
    await settled(aredis, job_id)
    assert time.monotonic() - started >= 2
    assert len(photos(telegram)) == 1
    assert len(telegram.calls_to("sendPhoto")) == 2


async def test_5xx_is_retried_with_back_off(telegram, listener, aredis):
    telegram.fail_next("sendMessage", 502, times=2)
    job_id = await publish_error(aredis)
    await settled(aredis, job_id)
    sent = [m for m in telegram.messages(USER) if m.method == "sendMessage"]
    assert len(sent) == 1 and "0badf00d" in sent[0].text
    assert len(telegram.calls_to("sendMessage")) == 3


async def test_a_long_flood_wait_leaves_the_result_pending_until_telegram_takes_it(telegram, listener, aredis):
    telegram.fail_next("sendPhoto", 429, retry_after=600)  # not waited out inside one call
    job_id = await publish_picture(aredis)
    await telegram.wait_for_call("sendPhoto")
    await asyncio.sleep(0.3)
    assert not photos(telegram)
    assert (await aredis.xpending(STREAM, RESULT_STREAM_CONSUMER_GROUP))["pending"] == 1
    await settled(aredis, job_id)  # the listener reclaims the entry and delivers it
    assert len(photos(telegram)) == 1


async def test_a_send_cut_off_after_telegram_sent_it_is_not_repeated(telegram, listener, aredis):
    telegram.drop_next("sendPhoto", after_handling=True)
    job_id = await publish_picture(aredis)
    await settled(aredis, job_id)
    await asyncio.sleep(1)  # a repeat would come now (the listener reclaims after 0.5 s)
    assert len(photos(telegram)) == 1
    assert len(telegram.calls_to("sendPhoto")) == 1


async def test_a_send_cut_off_before_telegram_acted_is_not_repeated_either(telegram, listener, aredis):
    """The bot cannot tell this from the case above: the price of never doubling is losing this one message."""
    telegram.drop_next("sendPhoto", after_handling=False)
    job_id = await publish_picture(aredis)
    await settled(aredis, job_id)
    await asyncio.sleep(1)
    assert photos(telegram) == []
    assert len(telegram.calls_to("sendPhoto")) == 1


async def test_a_repeatable_call_cut_off_is_retried(telegram, listener, aredis):
    bot = listener.outbox.bot
    status = await bot.send_message(chat_id=USER, text="⏳ в очереди")
    await aredis.set(status_message_key("telegram-imagine-5001-2"), str(status.message_id))
    telegram.drop_next("editMessageText", after_handling=False)
    job_id = await publish_error(aredis)
    await settled(aredis, job_id)
    [message] = telegram.messages(USER)
    assert "0badf00d" in message.text
    assert len(telegram.calls_to("editMessageText")) == 2


async def test_a_call_that_never_connected_is_retried_even_if_it_sends():
    calls = []

    async def make_request(bot, method):
        calls.append(method)
        if len(calls) < 3:
            refused = ClientConnectorError(SimpleNamespace(host="api.telegram.org", port=443, ssl=True), OSError(111))
            raise TelegramNetworkError(method=method, message="connection refused") from refused
        return "ok"

    async def no_sleep(_seconds):
        return None

    method = SendPhoto(chat_id=1, photo="file-id")
    assert await TelegramRetry(sleep=no_sleep)(make_request, None, method) == "ok"
    assert len(calls) == 3

    async def cut_off(bot, method):
        raise TelegramNetworkError(method=method, message="Request timeout error") from TimeoutError()

    with pytest.raises(UncertainSend):
        await TelegramRetry(sleep=no_sleep)(cut_off, None, method)


def test_which_calls_are_repeatable():
    assert repeatable("editMessageText") and repeatable("deleteMessage") and repeatable("sendChatAction")
    assert repeatable("answerCallbackQuery") and repeatable("getFile")
    assert not repeatable("sendPhoto") and not repeatable("sendMessage") and not repeatable("copyMessage")
