"""End to end: few-shot chat classes on Telegram — the real ``python -m bot`` (one-machine mode, tiny models)
against the fake Bot API: an album captioned ``/teach`` is learnt, a later photo is answered with the taught class
among the labels, ``/classes`` lists it, ``/forget_class`` forgets it; bad requests get their answers."""

from __future__ import annotations

import pytest

from handlers.texts import t
from tests import images

# the fixtures telegram (the fake Bot API), bot_process and alice are tests/e2e/conftest.py's
pytestmark = pytest.mark.asyncio(loop_scope="module")

RESULT_TIMEOUT = 120
RED = [(220, 30, 30), (210, 25, 35), (230, 40, 20)]


async def test_an_album_is_taught_then_recognised_listed_and_forgotten(telegram, bot_process, alice):
    album = [
        telegram.send_photo(
            alice["id"],
            alice,
            images.png(64, 64, color),
            caption="/teach Мурка" if index == 0 else None,
            media_group_id="teach-1",
        )
        for index, color in enumerate(RED)
    ]
    taught = await telegram.wait_for_text(alice["id"], "🎓", after=album[-1]["message_id"], timeout=RESULT_TIMEOUT)
    assert taught.text == t("teach_done", "ru", name="Мурка", count=3)

    photo = telegram.send_photo(alice["id"], alice, images.png(80, 60, (235, 30, 25)))
    answer = await telegram.wait_for_text(alice["id"], "%", after=photo["message_id"], timeout=RESULT_TIMEOUT)
    assert answer.reply_to_message_id == photo["message_id"]
    assert "% Мурка 🎓" in answer.text.splitlines()[1], "the taught class is the best match, among the labels"
    assert len(answer.text.splitlines()) == 6

    listed = telegram.send_text(alice["id"], alice, "/classes")
    answer = await telegram.wait_for_message(alice["id"], after=listed["message_id"])
    assert "• Мурка — 3 фото" in answer.text

    forgot = telegram.send_text(alice["id"], alice, "/забудь_класс мурка")
    answer = await telegram.wait_for_message(alice["id"], after=forgot["message_id"])
    assert answer.text == t("forget_class_done", "ru", name="мурка")
    photo = telegram.send_photo(alice["id"], alice, images.png(80, 60, (235, 30, 25)))
    answer = await telegram.wait_for_text(alice["id"], "%", after=photo["message_id"], timeout=RESULT_TIMEOUT)
    assert "Мурка" not in answer.text


async def test_teach_in_reply_to_a_photo_and_a_reteach_says_it_replaced(telegram, bot_process, alice):
    photo = telegram.send_photo(alice["id"], alice, images.png(64, 64, (30, 30, 220)))
    await telegram.wait_for_text(alice["id"], "%", after=photo["message_id"], timeout=RESULT_TIMEOUT)
    for expected in ("teach_done", "teach_replaced"):
        asked = telegram.send_text(alice["id"], alice, "/научи Барсик", reply_to_message_id=photo["message_id"])
        answer = await telegram.wait_for_text(alice["id"], "🎓", after=asked["message_id"], timeout=RESULT_TIMEOUT)
        assert answer.text == t(expected, "ru", name="Барсик", count=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/teach Мурка", t("teach_no_photo", "ru")),
        ("/teach", t("teach_no_name", "ru")),
        ("/forget_class Никто", t("forget_class_unknown", "ru", name="Никто")),
    ],
)
async def test_bad_requests_get_a_friendly_answer(telegram, bot_process, alice, text, expected):
    asked = telegram.send_text(alice["id"], alice, text)
    answer = await telegram.wait_for_message(alice["id"], after=asked["message_id"])
    assert answer.text == expected


async def test_a_broken_photo_file_is_refused(telegram, bot_process, alice):
    asked = telegram.send_document(
        alice["id"], alice, b"\x89PNG broken", "cat.png", "image/png", caption="/teach Мурка"
    )
    answer = await telegram.wait_for_message(alice["id"], after=asked["message_id"])
    assert answer.text == t("image_unreadable", "ru")


async def test_in_a_group_only_admins_teach(telegram, bot_process):
    chat = -1007777777777
    admin, member = telegram.user(7101, "Админ"), telegram.user(7102, "Участник")
    telegram.make_admin(chat, admin)
    refused = telegram.send_photo(
        chat, member, images.png(40, 40), caption="/teach@molbert_test_bot Мурка", chat_type="supergroup"
    )
    answer = await telegram.wait_for_message(chat, after=refused["message_id"])
    assert answer.text == t("teach_admins_only", "ru")
    asked = telegram.send_photo(
        chat, admin, images.png(40, 40), caption="/teach@molbert_test_bot Мурка", chat_type="supergroup"
    )
    answer = await telegram.wait_for_text(chat, "🎓", after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert answer.text == t("teach_done", "ru", name="Мурка", count=1)
