"""End to end: ``/describe`` through the real ``python -m bot`` (one-machine mode, tiny models) against the fake
Telegram Bot API: a photo described with ready /imagine lines and 🎨 buttons, a press painting its line, and bad
input answered with nothing queued."""

from __future__ import annotations

import asyncio

import pytest

from handlers.texts import t
from tests import images

# the fixtures telegram (the fake Bot API), bot_process and alice are tests/e2e/conftest.py's
pytestmark = pytest.mark.asyncio(loop_scope="module")

RESULT_TIMEOUT = 180  # the first /describe computes the phrase bank's embeddings


def command_lines(text: str) -> list[str]:
    return [line.split(". ", 1)[1] for line in text.splitlines() if line[:1].isdigit()]


async def test_a_reply_to_a_photo_is_described_and_a_button_paints_its_line(telegram, bot_process, alice):
    photo = telegram.send_photo(alice["id"], alice, images.png(96, 64, (40, 120, 200)))
    await telegram.wait_for_text(alice["id"], "%", after=photo["message_id"], timeout=RESULT_TIMEOUT)  # classified
    asked = telegram.send_text(alice["id"], alice, "/describe", reply_to_message_id=photo["message_id"])
    answer = await telegram.wait_for_text(alice["id"], "📝", after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert answer.text.startswith("📝 Похоже, это ")
    assert answer.reply_to_message_id == asked["message_id"]
    lines = command_lines(answer.text)
    assert 2 <= len(lines) <= 4 and all(line.startswith("/imagine ") for line in lines)
    [row] = answer.reply_markup["inline_keyboard"]
    assert [button["text"] for button in row] == [f"🎨 {n}" for n in range(1, len(lines) + 1)]
    assert all(len(button["callback_data"].encode()) <= 64 for button in row)

    telegram.press_button(alice["id"], alice, answer.message_id, row[1]["callback_data"])
    notice = await telegram.wait_for_call("answerCallbackQuery", lambda p: p.get("text") == t("button_accepted", "ru"))
    assert notice["text"] == t("button_accepted", "ru")
    picture = await telegram.wait_for_photo(alice["id"], after=answer.message_id, timeout=RESULT_TIMEOUT)
    prompt = lines[1].removeprefix("/imagine ")
    assert picture.caption.startswith(f"🎨 {prompt}")
    assert f"/imagine {prompt}" in picture.caption  # its line reproduces it, as a typed /imagine's does
    assert picture.reply_to_message_id == answer.message_id


async def test_a_photo_captioned_describe_in_russian_is_described(telegram, bot_process, alice):
    sent = telegram.send_photo(alice["id"], alice, images.png(64, 64, (200, 160, 40)), caption="/опиши")
    answer = await telegram.wait_for_text(alice["id"], "📝", after=sent["message_id"], timeout=RESULT_TIMEOUT)
    assert answer.reply_to_message_id == sent["message_id"]
    later = [m for m in telegram.messages(alice["id"]) if m.message_id > sent["message_id"] and not m.deleted]
    assert later == [answer], "described, not classified as well"


@pytest.mark.parametrize("command", ["/describe", "/опиши"])
async def test_describe_without_a_photo_explains_itself(telegram, bot_process, alice, command):
    asked = telegram.send_text(alice["id"], alice, command)
    answer = await telegram.wait_for_message(alice["id"], after=asked["message_id"])
    assert answer.text == t("describe_no_photo", "ru")


async def test_a_broken_image_is_refused_and_nothing_is_queued(telegram, bot_process, alice):
    data = images.truncated(images.png(200, 200))
    sent = telegram.send_document(alice["id"], alice, data, "cat.png", "image/png", caption="/describe")
    answer = await telegram.wait_for_message(alice["id"], after=sent["message_id"])
    assert answer.text == t("image_unreadable", "ru")
    await asyncio.sleep(1)
    later = [m for m in telegram.messages(alice["id"]) if m.message_id > sent["message_id"]]
    assert later == [answer], "no queued message: nothing was queued"
    assert "IHDR" not in bot_process.log  # nothing of the file in the logs
