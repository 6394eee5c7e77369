"""End to end, ✨ prompt enhancement: the real ``python -m bot`` (one-machine mode, tiny models: the tiny preset's
prompt writer is a random Qwen2, loaded through the production loader) against the fake Telegram Bot API.

``/imagine кот --enhance`` gets a picture whose caption says the description could not be enhanced (a random model
writes nothing usable) and repeats the words as typed; the ✨ under a picture repaints it.
"""

from __future__ import annotations

import pytest

from handlers.texts import t
from tests.e2e.test_telegram import RESULT_TIMEOUT

# the fixtures telegram (the fake Bot API), bot_process and alice are tests/e2e/conftest.py's
pytestmark = pytest.mark.asyncio(loop_scope="module")

FALLBACK = t("enhance_fallback", "ru", why=t("enhance_why_unusable", "ru"))


async def test_imagine_with_enhance_paints_and_says_what_became_of_the_description(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/imagine кот --улучшить --seed 11")
    photo = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert photo.caption.startswith("🎨 ")
    enhanced = t("enhanced_from", "ru", prompt="кот")
    assert photo.caption.endswith(FALLBACK) or photo.caption.endswith(enhanced)
    assert "--улучшить" not in photo.caption and "--enhance" not in photo.caption
    if photo.caption.endswith(FALLBACK):
        assert "/imagine кот --seed 11" in photo.caption


async def test_the_enhance_button_paints_a_new_picture(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/imagine маяк на скале --seed 12")
    first = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert FALLBACK not in first.caption
    [sparkle] = [b for row in first.reply_markup["inline_keyboard"] for b in row if b["text"] == "✨"]
    assert sparkle["callback_data"].startswith("e:")
    telegram.press_button(alice["id"], alice, first.message_id, sparkle["callback_data"])
    answer = await telegram.wait_for_call("answerCallbackQuery")
    assert answer["text"] == t("button_accepted", "ru")
    second = await telegram.wait_for_photo(alice["id"], after=first.message_id, timeout=RESULT_TIMEOUT)
    assert second.reply_to_message_id == first.message_id
    assert "--seed 12" in second.caption  # the same seed, from a description (or the words, and the user told)
    assert second.caption.endswith(FALLBACK) or second.caption.endswith(
        t("enhanced_from", "ru", prompt="маяк на скале")
    )
