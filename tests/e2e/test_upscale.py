"""End to end (#20): the real ``python -m bot`` (one-machine mode, the tiny preset with its RRDBNet loaded through
spandrel) against the fake Telegram Bot API: U gives a picture with ⤴ ×2 / ×4 under it, and ⤴ ×2 gives that
picture exactly twice the size, as a photo and as the PNG file; a one-picture result has ⤴ itself, and
``--up 3`` is answered without a job."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from handlers.texts import t
from tests.e2e.test_telegram import RESULT_TIMEOUT

# the fixtures telegram (the fake Bot API), bot_process and alice are tests/e2e/conftest.py's
pytestmark = pytest.mark.asyncio(loop_scope="module")


def size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size


async def test_enlarge_x2_under_a_u_picture_gives_it_twice_the_size(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/imagine маяк --n 2 --steps 1 --seed 5")
    grid = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    telegram.press_button(
        alice["id"], alice, grid.message_id, grid.reply_markup["inline_keyboard"][0][0]["callback_data"]
    )
    single = await telegram.wait_for_photo(alice["id"], after=grid.message_id)
    original = await telegram.wait_for_document(alice["id"], after=grid.message_id)
    buttons = {button["text"]: button for row in single.reply_markup["inline_keyboard"] for button in row}
    assert {"⤴ ×2", "⤴ ×4"} <= buttons.keys()  # beside 🔍 ×1.5 🔍 ×2: the tiny model zooms out too

    telegram.press_button(alice["id"], alice, single.message_id, buttons["⤴ ×2"]["callback_data"])
    await telegram.wait_for_call("answerCallbackQuery", lambda p: p.get("text") == t("button_accepted", "ru"))
    enlarged = await telegram.wait_for_photo(alice["id"], after=original.message_id, timeout=RESULT_TIMEOUT)
    document = await telegram.wait_for_document(alice["id"], after=enlarged.message_id)
    width, height = size(original.document)
    assert size(document.document) == (width * 2, height * 2) == size(enlarged.photo)
    assert document.document.startswith(b"\x89PNG") and "×2" in enlarged.caption and "RealESRGAN_x4" in enlarged.caption
    assert enlarged.reply_to_message_id == single.message_id and not enlarged.reply_markup  # no ⤴ again


async def test_a_one_picture_result_has_enlarge_and_up_3_is_refused(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/imagine кот --n 1 --steps 1")
    photo = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert {"⤴ ×2", "⤴ ×4"} <= {b["text"] for row in photo.reply_markup["inline_keyboard"] for b in row}
    asked = telegram.send_text(alice["id"], alice, "/imagine кот --up 3")
    await telegram.wait_for_text(alice["id"], t("option_up", "ru", value="3"), after=asked["message_id"])
