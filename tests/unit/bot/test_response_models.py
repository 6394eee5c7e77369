"""aiogram's answer classes (``Response[Message]`` …) are built once, not again after each garbage collection.

Through the real ``create_bot`` against the fake Bot API. The canary shows why the bot holds them: pydantic
caches parametrized generics weakly, so an answer class nothing holds is gone after ``gc.collect()``; if a
pydantic release stops doing that, the canary fails and ``bot/telegram/response_models.py`` can go.
"""

from __future__ import annotations

import gc
import weakref

from aiogram.methods import GetUserProfilePhotos, Response, SendMessage

from bot.config import TelegramSettings
from bot.telegram.app import create_bot
from bot.telegram.outbox import TelegramOutbox
from core.protocol import ChatRef
from tests.fakes.telegram_api import FakeTelegramAPI

ALICE = 5101


def answer_class(method: type) -> weakref.ref:
    """A weak reference to the class aiogram validates ``method``'s answers with."""
    return weakref.ref(Response[method.__returning__])


def test_canary_pydantic_frees_an_answer_class_nothing_holds():
    photos = Response[GetUserProfilePhotos.__returning__]
    photos.model_validate({"ok": True, "result": {"total_count": 0, "photos": []}})
    held_only_by_pydantic = weakref.ref(photos)
    del photos
    gc.collect()
    assert held_only_by_pydantic() is None


async def test_the_bot_keeps_the_answer_class_of_each_method_it_called():
    async with FakeTelegramAPI() as telegram:
        telegram.user(ALICE, "Алиса")
        bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
        outbox = TelegramOutbox(bot)
        chat = ChatRef(platform="telegram", chat_id=ALICE, user_id=ALICE)
        try:
            await outbox.send_text(chat, "первое")
            sent_with = answer_class(SendMessage)
            gc.collect()
            assert sent_with() is not None
            await outbox.send_text(chat, "второе")
            assert answer_class(SendMessage)() is sent_with()
        finally:
            await bot.session.close()
    assert [params["text"] for params in telegram.calls_to("sendMessage")] == ["первое", "второе"]
