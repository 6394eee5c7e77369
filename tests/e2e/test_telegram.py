"""End to end: the real ``python -m bot`` (one-machine mode, tiny models) against a fake Telegram Bot API.

Test code acts as Telegram users; everything between — aiogram, handlers, the embedded Redis, RQ, the worker
process with its models, the result stream — is the production code path.
"""

from __future__ import annotations

import asyncio
import io
import time

import numpy as np
import pytest
from PIL import Image

from handlers.texts import t
from tests import images

# the fixtures telegram (the fake Bot API), bot_process and alice are tests/e2e/conftest.py's
pytestmark = pytest.mark.asyncio(loop_scope="module")

RESULT_TIMEOUT = 120


async def test_commands_are_registered_in_russian_and_english(telegram, bot_process):
    await telegram.wait_for_call("setMyCommands", lambda p: p.get("language_code") == "en")
    russian = {c["command"]: c["description"] for c in telegram.commands[("default", "")]}
    english = {c["command"]: c["description"] for c in telegram.commands[("default", "en")]}
    assert russian["imagine"] == t("cmd_imagine", "ru")
    assert english["imagine"] == t("cmd_imagine", "en")


async def test_start_and_help_answer_in_russian(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/start")
    greeting = await telegram.wait_for_message(alice["id"], after=asked["message_id"])
    assert greeting.text.startswith("Привет, Алиса!")
    asked = telegram.send_text(alice["id"], alice, "/help")
    await telegram.wait_for_text(alice["id"], "/imagine кот в космосе", after=asked["message_id"])


async def test_imagine_delivers_a_picture_as_a_reply(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/imagine кот в космосе")
    status = await telegram.wait_for_message(alice["id"], after=asked["message_id"])
    assert status.text.startswith("⏳")
    [sent_status] = [call for call in telegram.calls_to("sendMessage") if call["text"] == status.text]
    assert sent_status.get("disable_notification") in (True, "true"), "the status is sent silently"
    photo = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    image = Image.open(io.BytesIO(photo.photo))
    image.load()
    assert image.size[0] > 0 and image.size[1] > 0
    assert photo.reply_to_message_id == asked["message_id"]
    assert photo.caption.startswith("🎨 кот в космосе")
    assert "seed" in photo.caption
    await _eventually(lambda: status.deleted)


async def test_options_grid_and_buttons_u_v_reroll(telegram, bot_process, alice):
    """/imagine with options → a 2×2 grid with U1–U4, V1–V4, 🔄 → each button gives the right follow-up."""
    asked = telegram.send_text(alice["id"], alice, "/imagine маяк на скале --n 4 --ar 3:2 --style акварель --seed 77")
    grid = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert grid.caption.startswith("🎨 маяк на скале")
    assert "/imagine маяк на скале --ar 3:2 --style акварель --n 4 --seed 77" in grid.caption
    rows = grid.reply_markup["inline_keyboard"]
    assert [[button["text"] for button in row] for row in rows] == [
        ["U1", "U2", "U3", "U4"],
        ["V1", "V2", "V3", "V4"],
        ["~1", "~2", "~3", "~4"],
        ["🔄", "🖋", "✨", "👍", "👎"],
    ]
    picture = Image.open(io.BytesIO(grid.photo))
    assert picture.width > picture.height, "a 2×2 grid of 3:2 images is landscape"

    u2 = rows[0][1]["callback_data"]
    telegram.press_button(alice["id"], alice, grid.message_id, u2)
    answer = await telegram.wait_for_call("answerCallbackQuery")
    assert answer["text"] == t("button_sending", "ru")
    single = await telegram.wait_for_photo(alice["id"], after=grid.message_id)
    full = await telegram.wait_for_document(alice["id"], after=grid.message_id)
    assert single.reply_to_message_id == grid.message_id
    assert Image.open(io.BytesIO(full.document)).size == (picture.width // 2, picture.height // 2)

    telegram.press_button(alice["id"], alice, grid.message_id, rows[1][2]["callback_data"])
    variations = await telegram.wait_for_photo(alice["id"], after=full.message_id, timeout=RESULT_TIMEOUT)
    assert variations.reply_to_message_id == grid.message_id
    assert variations.caption.startswith("🎨 маяк на скале") and not variations.caption.endswith("--seed 77")

    telegram.press_button(alice["id"], alice, grid.message_id, rows[2][3]["callback_data"])  # ~4: subtle
    subtle = await telegram.wait_for_photo(alice["id"], after=variations.message_id, timeout=RESULT_TIMEOUT)
    assert subtle.reply_to_message_id == grid.message_id

    telegram.press_button(alice["id"], alice, grid.message_id, rows[3][0]["callback_data"])
    reroll = await telegram.wait_for_photo(alice["id"], after=subtle.message_id, timeout=RESULT_TIMEOUT)
    assert "--ar 3:2 --style акварель --n 4" in reroll.caption and not reroll.caption.endswith("--seed 77")


async def test_zoom_out_keeps_the_picture_in_the_middle_of_a_bigger_one(telegram, bot_process, alice):
    """🔍 ×2 under a one-picture result: a new picture (reply to the pressed one) whose middle is the original scaled
    down to half, with its own zoom buttons; the caption says what was done."""
    asked = telegram.send_text(alice["id"], alice, "/imagine маяк на скале --n 1 --no люди")
    photo = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    rows = photo.reply_markup["inline_keyboard"]
    zoom_and_pan = [["🔍 ×1.5", "🔍 ×2", "⤴ ×2", "⤴ ×4"], ["⬅️", "➡️", "⬆️", "⬇️"]]  # ⤴ shares 🔍's row
    assert [[button["text"] for button in row] for row in rows][-3:-1] == zoom_and_pan
    telegram.press_button(alice["id"], alice, photo.message_id, rows[-3][1]["callback_data"])
    await telegram.wait_for_call("answerCallbackQuery", lambda p: p.get("text") == t("button_accepted", "ru"))
    zoomed = await telegram.wait_for_photo(alice["id"], after=photo.message_id, timeout=RESULT_TIMEOUT)
    assert zoomed.reply_to_message_id == photo.message_id
    assert t("outpaint_done_o2", "ru") in zoomed.caption and zoomed.caption.startswith("🎨 маяк на скале")
    assert zoomed.reply_markup["inline_keyboard"][-2][0]["text"] == "⬅️"
    original = Image.open(io.BytesIO(photo.photo)).convert("RGB")
    result = Image.open(io.BytesIO(zoomed.photo)).convert("RGB")
    assert result.size == original.size  # the tiny model's size: the picture shrank to half in its middle
    width, height = original.size
    half = original.resize((width // 2, height // 2), Image.Resampling.LANCZOS)
    margin = 4  # past the soft seam
    middle = result.crop((width // 4 + margin, height // 4 + margin, 3 * width // 4 - margin, 3 * height // 4 - margin))
    expected = half.crop((margin, margin, width // 2 - margin, height // 2 - margin))
    difference = np.abs(np.asarray(middle, dtype=np.int32) - np.asarray(expected, dtype=np.int32))
    assert difference.max() <= 2


async def test_a_button_storm_is_answered_at_once_and_served_once(telegram, bot_process):
    """Twenty quick presses of one U button: every press is answered within Telegram's window (at once, not after
    the paced sends), the picture is sent once, and another button pressed meanwhile still works."""
    carol = telegram.user(1077, "Карина", language_code="ru")
    asked = telegram.send_text(carol["id"], carol, "/imagine маяк на скале --n 4")
    grid = await telegram.wait_for_photo(carol["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    rows = grid.reply_markup["inline_keyboard"]
    started = time.monotonic()
    storm = [telegram.press_button(carol["id"], carol, grid.message_id, rows[0][1]["callback_data"]) for _ in range(20)]
    other = telegram.press_button(carol["id"], carol, grid.message_id, rows[0][2]["callback_data"])
    pressed = {query["id"] for query in [*storm, other]}

    def answers() -> dict[str, tuple[float, dict]]:
        timed = telegram.timed_calls_to("answerCallbackQuery")
        return {
            params["callback_query_id"]: (when, params)
            for when, params in timed
            if params["callback_query_id"] in pressed
        }

    await _eventually(lambda: len(answers()) == len(pressed), timeout=30)
    answered = answers()
    slowest = max(when for when, _ in answered.values()) - started
    assert slowest < 5, f"the last press was answered after {slowest:.1f} s"
    texts = [answered[query["id"]][1].get("text") for query in storm]
    assert texts.count(t("button_sending", "ru")) == 1
    assert texts.count(t("button_repeated", "ru")) == 19
    assert answered[other["id"]][1].get("text") == t("button_sending", "ru"), "another button is not a repeat"
    await asyncio.sleep(5)  # what the storm would have sent by now
    sent = [m for m in telegram.messages(carol["id"]) if m.message_id > grid.message_id]
    assert len([m for m in sent if m.photo is not None]) == 2, [m.describe() for m in sent]  # U2 and U3, once each
    assert len([m for m in sent if m.document is not None]) == 2


async def test_someone_else_cannot_press_your_buttons(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/imagine кот")
    photo = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    mallory = telegram.user(6666, "Mallory")
    telegram.press_button(
        alice["id"], mallory, photo.message_id, photo.reply_markup["inline_keyboard"][-1][0]["callback_data"]
    )
    answer = await telegram.wait_for_call("answerCallbackQuery", lambda p: p.get("text") == t("button_not_yours", "ru"))
    assert answer["text"] == t("button_not_yours", "ru")


async def test_bad_option_is_named_and_nothing_is_queued(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/imagine кот --n 9")
    answer = await telegram.wait_for_message(alice["id"], after=asked["message_id"])
    assert answer.text == "--n: «9» не подходит, нужно целое число от 1 до 4."


async def test_photo_is_classified_with_percentages(telegram, bot_process, alice):
    sent = telegram.send_photo(alice["id"], alice, images.png(120, 90))
    answer = await telegram.wait_for_text(alice["id"], "%", after=sent["message_id"], timeout=RESULT_TIMEOUT)
    # random tiny weights spread the scores over 500+ labels: the bot must say it is not sure
    assert answer.text.startswith(t("classify_uncertain", "ru"))
    assert len(answer.text.splitlines()) == 6
    assert answer.reply_to_message_id == sent["message_id"]


async def test_photo_with_caption_labels_is_classified_among_them(telegram, bot_process, alice):
    labels = ["кошка", "собака", "медведь"]
    sent = telegram.send_photo(alice["id"], alice, images.png(64, 64, (90, 60, 30)), caption="кошка, собака, медведь")
    answer = await telegram.wait_for_text(alice["id"], "%", after=sent["message_id"], timeout=RESULT_TIMEOUT)
    lines = answer.text.splitlines()
    assert lines[0] in (t("classify_header_labels", "ru"), t("classify_uncertain", "ru"))
    assert sorted(line.split("% ", 1)[1] for line in lines[1:]) == sorted(labels)


async def test_album_with_a_query_is_ranked_in_reply_to_the_best_photo(telegram, bot_process, alice):
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    album = [
        telegram.send_photo(
            alice["id"],
            alice,
            images.png(64, 64, color),
            caption="самый смешной мем" if index == 0 else None,
            media_group_id="album-1",
        )
        for index, color in enumerate(colors)
    ]
    answer = await telegram.wait_for_text(alice["id"], "🏆", after=album[-1]["message_id"], timeout=RESULT_TIMEOUT)
    lines = answer.text.splitlines()
    assert lines[0].startswith("🏆 «самый смешной мем»")
    places = [line.rsplit("фото ", 1)[1] for line in lines[1:]]
    assert sorted(places) == ["1", "2", "3"]
    assert f"фото {places[0]}" in lines[0]
    assert answer.reply_to_message_id == album[int(places[0]) - 1]["message_id"]
    await asyncio.sleep(0.5)
    later = [m for m in telegram.messages(alice["id"]) if m.message_id > album[-1]["message_id"] and not m.deleted]
    assert later == [answer], "one answer for the whole album (the queued message is removed)"


async def test_classify_command_in_reply_to_a_photo(telegram, bot_process, alice):
    photo = telegram.send_photo(alice["id"], alice, images.png(70, 70, (10, 10, 200)))
    await telegram.wait_for_text(alice["id"], "%", after=photo["message_id"], timeout=RESULT_TIMEOUT)
    asked = telegram.send_text(alice["id"], alice, "/classify море; небо", reply_to_message_id=photo["message_id"])
    answer = await telegram.wait_for_text(alice["id"], "%", after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert answer.reply_to_message_id == asked["message_id"]
    assert sorted(line.split("% ", 1)[1] for line in answer.text.splitlines()[1:]) == ["море", "небо"]


async def test_classify_command_without_a_photo_explains_itself(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/classify кошка, собака")
    answer = await telegram.wait_for_message(alice["id"], after=asked["message_id"])
    assert answer.text == t("classify_reply_to_photo", "ru")


async def test_one_label_gets_a_yes_or_no(telegram, bot_process, alice):
    sent = telegram.send_photo(alice["id"], alice, images.png(64, 64), caption="жираф")
    answer = await telegram.wait_for_message(
        alice["id"], lambda m: m.text and m.text[0] in "✅❌", after=sent["message_id"], timeout=RESULT_TIMEOUT
    )
    assert "«жираф»" in answer.text


async def test_image_sent_as_a_file_is_classified(telegram, bot_process, alice):
    sent = telegram.send_document(alice["id"], alice, images.png(80, 80), "cat.png", "image/png", caption="кот; пёс")
    answer = await telegram.wait_for_text(alice["id"], "%", after=sent["message_id"], timeout=RESULT_TIMEOUT)
    assert "кот" in answer.text and "пёс" in answer.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/imagine", "Напишите, что нарисовать"),
        ("/imagine    ", "Напишите, что нарисовать"),
        ("/imagine " + "кот " * 1250, "Описание слишком длинное"),
        ("/imagine \u200b\u200b", "Напишите, что нарисовать"),
        ("/imagine голая женщина на пляже", "такое я рисовать не буду"),
    ],
    ids=["no-prompt", "blank", "5000-chars", "zero-width", "blocklist"],
)
async def test_bad_prompts_get_a_clear_russian_answer_and_no_job(telegram, bot_process, alice, text, expected):
    asked = telegram.send_text(alice["id"], alice, text)
    answer = await telegram.wait_for_message(alice["id"], after=asked["message_id"])
    assert expected in answer.text
    await asyncio.sleep(0.5)
    later = [m for m in telegram.messages(alice["id"]) if m.message_id > asked["message_id"]]
    assert later == [answer], "a refused prompt must not be queued (no status message, no picture)"


@pytest.mark.parametrize(
    ("data", "file_name", "mime", "expected"),
    [
        (images.PDF, "doc.pdf", "application/pdf", "Это не похоже на картинку"),
        (images.truncated(images.png(200, 200)), "broken.png", "image/png", "Не получилось открыть картинку"),
        (b"\x00" * 100, "zeros.jpg", "image/jpeg", "Не получилось открыть картинку"),
    ],
    ids=["pdf", "truncated-png", "garbage-jpeg"],
)
async def test_bad_documents_get_a_clear_russian_answer(telegram, bot_process, alice, data, file_name, mime, expected):
    sent = telegram.send_document(alice["id"], alice, data, file_name, mime)
    answer = await telegram.wait_for_message(alice["id"], after=sent["message_id"])
    assert expected in answer.text
    await asyncio.sleep(0.5)
    later = [m for m in telegram.messages(alice["id"]) if m.message_id > sent["message_id"]]
    assert later == [answer]


async def test_a_sticker_in_private_gets_told_what_the_bot_understands(telegram, bot_process, alice):
    sent = telegram.send_sticker(alice["id"], alice)
    answer = await telegram.wait_for_message(alice["id"], after=sent["message_id"])
    assert (answer.text, answer.reply_to_message_id) == (t("unsupported_message", "ru"), sent["message_id"])


async def test_the_bot_keeps_serving_after_bad_input(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/imagine акварельный пейзаж с берёзами")
    photo = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert photo.caption.startswith("🎨 акварельный пейзаж с берёзами")


async def test_english_user_gets_english(telegram, bot_process):
    bob = telegram.user(2002, "Bob", language_code="en")
    asked = telegram.send_text(bob["id"], bob, "/imagine")
    answer = await telegram.wait_for_message(bob["id"], after=asked["message_id"])
    assert answer.text == t("imagine_empty", "en")


async def test_the_token_never_appears_in_the_logs(telegram, bot_process):
    secret = telegram.token.split(":", 1)[1]
    assert "ready" in bot_process.log
    assert secret not in bot_process.log


async def _eventually(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


# --- group chats ---------------------------------------------------------------------------------------

GROUP = -1001234567890


async def test_group_command_addressed_to_the_bot_is_answered_in_the_group(telegram, bot_process, alice):
    asked = telegram.send_text(GROUP, alice, "/imagine@molbert_test_bot маяк", chat_type="supergroup")
    photo = await telegram.wait_for_photo(GROUP, after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert photo.reply_to_message_id == asked["message_id"]


async def test_group_messages_not_for_the_bot_are_left_alone(telegram, bot_process, alice):
    other_bot = telegram.send_text(GROUP, alice, "/imagine@some_other_bot кот", chat_type="supergroup")
    plain_photo = telegram.send_photo(GROUP, alice, images.png(), chat_type="supergroup")
    chatter = telegram.send_text(GROUP, alice, "всем привет", chat_type="supergroup")
    probe = telegram.send_text(GROUP, alice, "/help@molbert_test_bot", chat_type="supergroup")
    await telegram.wait_for_message(GROUP, after=probe["message_id"])  # the bot has seen everything before it
    answered = {m.reply_to_message_id for m in telegram.messages(GROUP)}
    assert not answered & {other_bot["message_id"], plain_photo["message_id"], chatter["message_id"]}


async def test_group_photo_mentioning_the_bot_is_classified_among_its_labels(telegram, bot_process, alice):
    caption = "@molbert_test_bot кошка, собака"
    sent = telegram.send_photo(GROUP, alice, images.png(50, 50), caption=caption, chat_type="supergroup")
    answer = await telegram.wait_for_text(GROUP, "%", after=sent["message_id"], timeout=RESULT_TIMEOUT)
    assert sorted(line.split("% ", 1)[1] for line in answer.text.splitlines()[1:]) == ["кошка", "собака"]


async def test_a_reply_to_the_bot_is_a_new_prompt(telegram, bot_process, alice):
    greeting = telegram.send_text(GROUP, alice, "/start@molbert_test_bot", chat_type="supergroup")
    hello = await telegram.wait_for_message(GROUP, after=greeting["message_id"])
    reply = telegram.send_text(
        GROUP, alice, "кот в шляпе", reply_to_message_id=hello.message_id, chat_type="supergroup"
    )
    photo = await telegram.wait_for_photo(GROUP, after=reply["message_id"], timeout=RESULT_TIMEOUT)
    assert photo.caption.startswith("🎨 кот в шляпе")


@pytest.mark.parametrize("text", ["/imagine кот в шляпе @molbert_test_bot", "@molbert_test_bot /imagine кот в шляпе"])
async def test_a_mention_of_the_bot_is_not_part_of_the_prompt(telegram, bot_process, alice, text):
    asked = telegram.send_text(GROUP, alice, text, chat_type="supergroup")
    photo = await telegram.wait_for_photo(GROUP, after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert photo.caption.startswith("🎨 кот в шляпе\n")


async def test_in_a_group_only_the_requester_s_reply_to_a_picture_remixes_it(telegram, bot_process, alice):
    bob = telegram.user(5002, "Боб")
    asked = telegram.send_text(GROUP, alice, "/imagine@molbert_test_bot маяк --seed 77", chat_type="supergroup")
    picture = await telegram.wait_for_photo(GROUP, after=asked["message_id"], timeout=RESULT_TIMEOUT)
    reaction = telegram.send_text(
        GROUP, bob, "ахах круто 😂", reply_to_message_id=picture.message_id, chat_type="supergroup"
    )
    again = telegram.send_text(
        GROUP, alice, "а теперь собака", reply_to_message_id=picture.message_id, chat_type="supergroup"
    )
    photo = await telegram.wait_for_photo(GROUP, after=again["message_id"], timeout=RESULT_TIMEOUT)
    assert photo.caption.startswith("🎨 маяк, собака")
    assert "/imagine маяк, собака --seed 77" in photo.caption
    assert not [m for m in telegram.messages(GROUP) if m.reply_to_message_id == reaction["message_id"]]


async def test_a_reply_to_a_picture_in_private_remixes_it_with_the_same_seed(telegram, bot_process, alice):
    asked = telegram.send_text(alice["id"], alice, "/imagine кот в шляпе --ar 3:2 --seed 5")
    picture = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    for reply, line in [
        ("а без шляпы", "/imagine кот в шляпе --ar 3:2 --no шляпа --seed 5"),
        ("--ar 9:16", "/imagine кот в шляпе --ar 9:16 --seed 5"),
        ("собака на пляже", "/imagine собака на пляже --ar 3:2 --seed 5"),
    ]:
        sent = telegram.send_text(alice["id"], alice, reply, reply_to_message_id=picture.message_id)
        remixed = await telegram.wait_for_photo(alice["id"], after=sent["message_id"], timeout=RESULT_TIMEOUT)
        assert remixed.reply_to_message_id == sent["message_id"]
        assert line in remixed.caption


async def test_a_reply_to_a_u_image_remixes_that_one_picture(telegram, bot_process, alice):
    """A U image is one picture of the grid: a reply to it paints from its pixels (so its shape stays, whatever the
    reply's --ar), with the merged line and the same seed."""
    asked = telegram.send_text(alice["id"], alice, "/imagine маяк --n 4 --ar 3:2 --seed 9")
    grid = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    telegram.press_button(
        alice["id"], alice, grid.message_id, grid.reply_markup["inline_keyboard"][0][2]["callback_data"]
    )
    single = await telegram.wait_for_photo(alice["id"], after=grid.message_id)
    await telegram.wait_for_document(alice["id"], after=single.message_id)  # the U press is served
    sent = telegram.send_text(alice["id"], alice, "а теперь ночью --n 1", reply_to_message_id=single.message_id)
    remixed = await telegram.wait_for_photo(alice["id"], after=sent["message_id"], timeout=RESULT_TIMEOUT)
    assert remixed.reply_to_message_id == sent["message_id"]
    assert "/imagine маяк, ночью --ar 3:2 --seed 9" in remixed.caption
    assert Image.open(io.BytesIO(remixed.photo)).size == Image.open(io.BytesIO(single.photo)).size


async def test_the_pen_asks_the_requester_what_to_change_and_their_reply_remixes(telegram, bot_process, alice):
    bob = telegram.user(5003, "Борис")
    asked = telegram.send_text(GROUP, alice, "/imagine@molbert_test_bot кот в шляпе --seed 11", chat_type="supergroup")
    picture = await telegram.wait_for_photo(GROUP, after=asked["message_id"], timeout=RESULT_TIMEOUT)
    pen = picture.reply_markup["inline_keyboard"][-1][1]  # 🔄 🖋 ✨ 👍 👎
    assert pen["text"] == "🖋"
    not_theirs = telegram.press_button(GROUP, bob, picture.message_id, pen["callback_data"])
    pressed = telegram.press_button(GROUP, alice, picture.message_id, pen["callback_data"])
    line = "/imagine кот в шляпе --seed 11"
    question = await telegram.wait_for_text(GROUP, line, after=picture.message_id)
    assert question.reply_to_message_id == asked["message_id"]  # selective: shown to the requester
    assert (question.reply_markup["force_reply"], question.reply_markup["selective"]) == (True, True)
    [params] = [p for p in telegram.calls_to("sendMessage") if p.get("text") == question.text]
    [code] = params["entities"]
    start = len(question.text.encode("utf-16-le")) // 2 - len(line)
    assert (code["type"], code["offset"], code["length"]) == ("code", start, len(line))  # a tap copies it
    for press in (not_theirs, pressed):  # the two presses are served concurrently: either may be answered last
        query = press["id"]
        await telegram.wait_for_call("answerCallbackQuery", lambda p, query=query: p["callback_query_id"] == query)
    answers = {p["callback_query_id"]: p.get("text") for p in telegram.calls_to("answerCallbackQuery")}
    assert answers[not_theirs["id"]] == t("button_not_yours", "ru")
    assert answers[pressed["id"]] == t("remix_prompt_sent", "ru")
    reply = telegram.send_text(
        GROUP, alice, "а без шляпы", reply_to_message_id=question.message_id, chat_type="supergroup"
    )
    remixed = await telegram.wait_for_photo(GROUP, after=reply["message_id"], timeout=RESULT_TIMEOUT)
    assert "/imagine кот в шляпе --no шляпа --seed 11" in remixed.caption


async def test_answers_stay_in_the_forum_topic(telegram, bot_process, alice):
    forum = -1009876543210
    asked = telegram.send_text(
        forum, alice, "/imagine@molbert_test_bot луна", chat_type="supergroup", message_thread_id=7
    )
    status = await telegram.wait_for_message(forum, after=asked["message_id"])
    photo = await telegram.wait_for_photo(forum, after=asked["message_id"], timeout=RESULT_TIMEOUT)
    assert status.message_thread_id == photo.message_thread_id == 7


async def test_chat_admins_set_the_chats_labels_and_members_cannot(telegram, bot_process, alice):
    chat = -1005555555555
    admin, member = telegram.user(7001, "Админ"), telegram.user(7002, "Участник")
    telegram.make_admin(chat, admin)
    refused = telegram.send_text(chat, member, "/labels@molbert_test_bot кошка, собака", chat_type="supergroup")
    answer = await telegram.wait_for_message(chat, after=refused["message_id"])
    assert answer.text == t("labels_admins_only", "ru")
    asked = telegram.send_text(chat, admin, "/labels@molbert_test_bot море, лес, город", chat_type="supergroup")
    answer = await telegram.wait_for_message(chat, after=asked["message_id"])
    assert answer.text.startswith("Готово")
    caption = "@molbert_test_bot"
    sent = telegram.send_photo(chat, member, images.png(40, 40), caption=caption, chat_type="supergroup")
    result = await telegram.wait_for_text(chat, "%", after=sent["message_id"], timeout=RESULT_TIMEOUT)
    assert sorted(line.split("% ", 1)[1] for line in result.text.splitlines()[1:]) == ["город", "лес", "море"]


async def test_a_group_upgraded_to_a_supergroup_gets_its_picture_and_keeps_its_labels(telegram, bot_process):
    """The group becomes a supergroup while a picture is painted: the status and the picture reach the new chat
    (Telegram refuses the old id and names the new one), and the labels its admins chose apply there."""
    group, supergroup = -4001, -1004001
    admin = telegram.user(7011, "Админ")
    telegram.make_admin(group, admin)
    asked = telegram.send_text(group, admin, "/labels@molbert_test_bot море, лес, город", chat_type="group")
    answer = await telegram.wait_for_message(group, after=asked["message_id"])
    assert answer.text.startswith("Готово")
    telegram.send_text(group, admin, "/imagine@molbert_test_bot маяк на скале", chat_type="group")
    telegram.upgrade_group(group, supergroup, announce=False)  # the bot learns of it from a refused call
    picture = await telegram.wait_for_photo(supergroup, timeout=RESULT_TIMEOUT)
    assert picture.caption.startswith("🎨 маяк на скале")
    asked = telegram.send_text(supergroup, admin, "/labels@molbert_test_bot", chat_type="supergroup")
    answer = await telegram.wait_for_message(supergroup, after=asked["message_id"])
    assert "море, лес, город" in answer.text


async def test_the_upgrade_s_service_message_carries_the_chat_s_labels(telegram, bot_process):
    group, supergroup = -4002, -1004002
    admin = telegram.user(7012, "Админ")
    telegram.make_admin(group, admin)
    asked = telegram.send_text(group, admin, "/labels@molbert_test_bot кошка, собака", chat_type="group")
    await telegram.wait_for_message(group, after=asked["message_id"])
    telegram.upgrade_group(group, supergroup)
    await _eventually(lambda: "chat telegram:-4002 moved" in bot_process.log, timeout=30)
    asked = telegram.send_text(supergroup, admin, "/labels@molbert_test_bot", chat_type="supergroup")
    answer = await telegram.wait_for_message(supergroup, after=asked["message_id"])
    assert "кошка, собака" in answer.text


async def test_an_anonymous_admin_writing_as_the_group_is_an_admin(telegram, bot_process, alice):
    chat = -1006666666666
    asked = telegram.send_text_as_the_group(chat, "/labels@molbert_test_bot море, лес")
    answer = await telegram.wait_for_message(chat, after=asked["message_id"])
    assert answer.text.startswith("Готово")


async def test_edited_messages_and_channel_posts_are_ignored(telegram, bot_process, alice):
    """An edit must not paint a second picture; a channel post has no one to answer."""
    asked = telegram.send_text(alice["id"], alice, "/imagine кот в очках")
    await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RESULT_TIMEOUT)
    sent_before = len(telegram.messages(alice["id"]))
    telegram.edit_text(alice["id"], alice, asked["message_id"], "/imagine собака в очках")
    telegram.channel_post(-1007777777777, "Канал", "/imagine@molbert_test_bot луна")
    probe = telegram.send_text(alice["id"], alice, "/help")
    await telegram.wait_for_message(alice["id"], after=probe["message_id"])  # handled after the edit
    await asyncio.sleep(1)
    assert len(telegram.messages(alice["id"])) == sent_before + 1, "only the /help answer"
    assert telegram.messages(-1007777777777) == []
