"""The fake Telegram Bot API, driven by a real aiogram Bot: aiogram must parse every answer it gives."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)
from PIL import Image

from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage

pytestmark = pytest.mark.timeout(30)

ALICE_ID = 1001


def png(width: int = 640, height: int = 480, color: str = "teal") -> bytes:
    """A real PNG image."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def keyboard(*datas: str) -> InlineKeyboardMarkup:
    """One row of inline buttons, each labelled with its callback_data."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=d, callback_data=d) for d in datas]])


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegramAPI) -> AsyncIterator[Bot]:
    client = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
    yield client
    await client.session.close()


@pytest.fixture
def alice(fake: FakeTelegramAPI) -> dict:
    return fake.user(ALICE_ID, "Алиса", username="alice")


async def raw_call(fake: FakeTelegramAPI, method: str, **request: object) -> tuple[int, dict]:
    """POST to the fake without aiogram, to check wire formats and errors aiogram cannot produce."""
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{fake.base_url}/bot{fake.token}/{method}", **request)
        return response.status, await response.json()


# ------------------------------------------------------------------------- the bot itself


async def test_get_me_describes_the_bot(fake: FakeTelegramAPI, bot: Bot) -> None:
    me = await bot.get_me()

    assert me.is_bot
    assert me.id == bot.id == fake.bot_user["id"]
    assert me.username == "molbert_test_bot"
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False
    assert fake.calls == [("getMe", {})]


async def test_wrong_token_is_unauthorized(fake: FakeTelegramAPI) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    async with Bot("42:wrong-token", session=session) as stranger:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    assert fake.calls == []


async def test_unknown_method_is_not_found(fake: FakeTelegramAPI) -> None:
    status, body = await raw_call(fake, "sendTelepathy", data={"chat_id": "1"})

    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})


async def test_commands_are_kept_per_scope_and_language(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    ru = [BotCommand(command="imagine", description="Нарисовать картинку")]
    chat_only = [BotCommand(command="help", description="Помощь")]

    assert await bot.set_my_commands(ru, language_code="ru")
    assert await bot.set_my_commands(chat_only, scope=BotCommandScopeChat(chat_id=ALICE_ID))

    assert fake.commands[("default", "ru")] == [{"command": "imagine", "description": "Нарисовать картинку"}]
    assert fake.commands[(f"chat:{ALICE_ID}", "")] == [{"command": "help", "description": "Помощь"}]
    assert [(c.command, c.description) for c in await bot.get_my_commands(language_code="ru")] == [
        ("imagine", "Нарисовать картинку")
    ]
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Нарисуй", description="нельзя: не латиница")])


# ------------------------------------------------------------------------- sending and editing


async def test_send_message_with_reply_and_inline_keyboard(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    asked = fake.send_text(ALICE_ID, alice, "привет")

    sent = await bot.send_message(
        ALICE_ID,
        "Здравствуйте!",
        reply_parameters=ReplyParameters(message_id=asked["message_id"]),
        reply_markup=keyboard("again"),
    )

    assert isinstance(sent, Message)
    assert sent.message_id == asked["message_id"] + 1
    assert sent.from_user.id == bot.id
    assert sent.reply_to_message.text == "привет"
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "again"
    [record] = fake.messages(ALICE_ID)
    assert record.text == "Здравствуйте!"
    assert record.reply_to_message_id == asked["message_id"]
    assert record.reply_markup == {"inline_keyboard": [[{"text": "again", "callback_data": "again"}]]}
    method, params = fake.calls[-1]
    assert method == "sendMessage"
    assert params["chat_id"] == ALICE_ID
    assert params["reply_parameters"] == {"message_id": asked["message_id"]}


async def test_legacy_reply_to_message_id_and_missing_reply_target(
    bot: Bot, fake: FakeTelegramAPI, alice: dict
) -> None:
    asked = fake.send_text(ALICE_ID, alice, "раз")

    sent = await bot.send_message(ALICE_ID, "два", reply_to_message_id=asked["message_id"])
    orphan = await bot.send_message(
        ALICE_ID, "три", reply_parameters=ReplyParameters(message_id=999, allow_sending_without_reply=True)
    )

    assert sent.reply_to_message.message_id == asked["message_id"]
    assert orphan.reply_to_message is None
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(ALICE_ID, "четыре", reply_parameters=ReplyParameters(message_id=999))


async def test_send_message_errors_are_telegrams(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(ALICE_ID, "")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ALICE_ID, "я" * 4097)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(777, "кому?")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE_ID, "кнопка", reply_markup=keyboard("x" * 65))
    status, body = await raw_call(fake, "sendMessage", data={"text": "no chat"})
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    assert fake.messages() == []


async def test_json_and_urlencoded_bodies_are_accepted(fake: FakeTelegramAPI, alice: dict) -> None:
    markup = {"inline_keyboard": [[{"text": "ok", "callback_data": "ok"}]]}

    status, body = await raw_call(
        fake, "sendMessage", json={"chat_id": ALICE_ID, "text": "json", "reply_markup": markup}
    )
    assert status == 200
    assert body["result"]["reply_markup"] == markup
    status, body = await raw_call(fake, "sendMessage", data={"chat_id": str(ALICE_ID), "text": "form"})
    assert status == 200
    assert [record.text for record in fake.messages(ALICE_ID)] == ["json", "form"]


async def test_html_is_validated_and_stripped(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    await bot.send_message(ALICE_ID, "<b>Готово</b> &lt;3", parse_mode="HTML")

    assert fake.messages(ALICE_ID)[0].text == "Готово <3"
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(ALICE_ID, "кот <3 собака", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "br"'):
        await bot.send_message(ALICE_ID, "строка<br>строка", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Can't find end tag"):
        await bot.send_message(ALICE_ID, "<b>жирный", parse_mode="HTML")


async def test_edit_message_text_keeps_history(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    status = await bot.send_message(ALICE_ID, "В очереди…", reply_markup=keyboard("cancel"))

    edited = await bot.edit_message_text("Готово", chat_id=ALICE_ID, message_id=status.message_id)

    assert isinstance(edited, Message)
    assert edited.text == "Готово"
    assert edited.edit_date is not None
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard, as on Telegram
    [record] = fake.messages(ALICE_ID)
    assert (record.text, record.history, record.reply_markup) == ("Готово", ["В очереди…", "Готово"], None)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Готово", chat_id=ALICE_ID, message_id=status.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("куда?", chat_id=ALICE_ID, message_id=999)


async def test_delete_message(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    sent = await bot.send_message(ALICE_ID, "временное")

    assert await bot.delete_message(ALICE_ID, sent.message_id) is True

    assert fake.messages(ALICE_ID)[0].deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ALICE_ID, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("поздно", chat_id=ALICE_ID, message_id=sent.message_id)


async def test_send_photo_records_the_exact_bytes(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    picture = png(1024, 768)

    sent = await bot.send_photo(ALICE_ID, BufferedInputFile(picture, filename="molbert.png"), caption="Кот")

    assert sent.caption == "Кот"
    assert [(size.width, size.height) for size in sent.photo] == [(90, 68), (320, 240), (800, 600), (1024, 768)]
    record = await fake.wait_for_photo(ALICE_ID, timeout=1)
    assert record.photo == picture
    assert record.method == "sendPhoto"
    assert record.history == ["Кот"]
    upload = fake.calls_to("sendPhoto")[0]
    assert upload["photo"].startswith("attach://")
    assert upload[upload["photo"].removeprefix("attach://")].data == picture
    resent = await bot.send_photo(ALICE_ID, sent.photo[-1].file_id)
    assert fake.messages(ALICE_ID)[-1].photo == picture
    assert resent.photo[-1].width == 1024
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(ALICE_ID, BufferedInputFile(b"not an image", filename="x.png"))


async def test_send_document_and_media_group(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    picture = png()

    document = await bot.send_document(ALICE_ID, BufferedInputFile(picture, filename="full.png"), caption="PNG")
    album = await bot.send_media_group(
        ALICE_ID,
        [InputMediaPhoto(media=BufferedInputFile(png(color=c), filename=f"{c}.png")) for c in ("red", "blue")],
    )

    assert (document.document.file_name, document.document.mime_type) == ("full.png", "image/png")
    assert document.document.file_size == len(picture)
    assert (await fake.wait_for_document(ALICE_ID, timeout=1)).document == picture
    assert len(album) == 2
    assert album[0].media_group_id == album[1].media_group_id is not None
    assert [record.photo == png(color=c) for record, c in zip(fake.messages()[1:], ("red", "blue"), strict=True)] == [
        True,
        True,
    ]


async def test_chat_action_and_chat_member(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    assert await bot.send_chat_action(ALICE_ID, "upload_photo") is True

    member = await bot.get_chat_member(ALICE_ID, ALICE_ID)

    assert member.status == "member"
    assert member.user.first_name == "Алиса"
    assert (await fake.wait_for_call("sendChatAction", timeout=1))["action"] == "upload_photo"


# ------------------------------------------------------------------------- updates from users


async def test_get_updates_delivers_a_command_with_its_entity(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    asked = fake.send_text(ALICE_ID, alice, "/imagine кот в сапогах")

    [update] = await bot.get_updates(timeout=0)

    message = update.message
    assert message.message_id == asked["message_id"]
    assert message.chat.type == "private"
    assert message.from_user.language_code == "ru"
    assert message.entities[0].type == "bot_command"
    assert message.entities[0].extract_from(message.text) == "/imagine"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []


async def test_get_updates_long_polls_until_an_update_arrives(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    async def write_later() -> None:
        await asyncio.sleep(0.2)
        fake.send_text(ALICE_ID, alice, "вот и я")

    started = time.monotonic()
    writer = asyncio.create_task(write_later())
    updates = await bot.get_updates(timeout=10)
    await writer

    assert [update.message.text for update in updates] == ["вот и я"]
    assert time.monotonic() - started < 5


async def test_a_second_poller_conflicts_with_the_first(fake: FakeTelegramAPI, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await fake.wait_for_call("getUpdates", timeout=1)

    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first


async def test_user_photo_downloads_as_the_original_bytes(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    picture = png(1280, 960, "orange")
    fake.send_photo(ALICE_ID, alice, picture, caption="что это?")

    [update] = await bot.get_updates(timeout=0)

    sizes = update.message.photo
    assert update.message.caption == "что это?"
    assert [size.width for size in sizes] == [90, 320, 800, 1280]
    assert sizes[-1].file_size == len(picture)
    file = await bot.get_file(sizes[-1].file_id)
    assert file.file_path.startswith("photos/")
    assert (await bot.download(sizes[-1].file_id)).read() == picture
    with Image.open(await bot.download(sizes[0].file_id)) as thumbnail:
        assert (thumbnail.format, thumbnail.width) == ("JPEG", 90)


async def test_user_document_downloads(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    fake.send_document(ALICE_ID, alice, b"%PDF-1.4 fake", "scan.pdf", "application/pdf", caption="/identify")

    [update] = await bot.get_updates(timeout=0)

    document = update.message.document
    assert (document.file_name, document.mime_type, document.file_size) == ("scan.pdf", "application/pdf", 13)
    assert update.message.caption_entities[0].type == "bot_command"
    assert (await bot.download(document)).read() == b"%PDF-1.4 fake"
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("no-such-file")


async def test_group_topic_messages(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    fake.send_text(-100500, alice, "/imagine@molbert_test_bot лес", chat_type="supergroup", message_thread_id=7)

    [update] = await bot.get_updates(timeout=0)

    message = update.message
    assert (message.chat.type, message.chat.is_forum, message.message_thread_id) == ("supergroup", True, 7)
    assert message.is_topic_message
    assert message.entities[0].length == len("/imagine@molbert_test_bot")
    await bot.send_message(-100500, "Рисую", message_thread_id=7)
    assert fake.messages(-100500)[0].message_thread_id == 7


async def test_callback_button_press(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    offer = await bot.send_message(ALICE_ID, "Ещё?", reply_markup=keyboard("again", "stop"))
    query = fake.press_button(ALICE_ID, alice, offer.message_id, "again")

    [update] = await bot.get_updates(timeout=0)

    assert isinstance(update.callback_query, CallbackQuery)
    assert update.callback_query.data == "again"
    assert update.callback_query.message.message_id == offer.message_id
    assert await bot.answer_callback_query(query["id"], text="Рисую ещё") is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query["id"])
    edited = await bot.edit_message_reply_markup(chat_id=ALICE_ID, message_id=offer.message_id)
    assert edited.reply_markup is None
    with pytest.raises(AssertionError, match="no bot message"):
        fake.press_button(ALICE_ID, alice, offer.message_id, "again")


async def test_dispatcher_receives_the_command_and_its_reply_arrives(
    fake: FakeTelegramAPI, bot: Bot, alice: dict
) -> None:
    router = Router()

    @router.message(Command("imagine"))
    async def imagine(message: Message, command: CommandObject) -> None:
        await message.reply(f"Рисую: {command.args}")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False))
    try:
        asked = fake.send_text(ALICE_ID, alice, "/imagine кот в сапогах")
        reply = await fake.wait_for_text(ALICE_ID, "Рисую: кот в сапогах", after=asked["message_id"], timeout=10)
    finally:
        await dispatcher.stop_polling()
        await polling

    assert reply.reply_to_message_id == asked["message_id"]


# ------------------------------------------------------------------------- waiting helpers and fault injection


async def test_wait_for_text_sees_edits_and_reports_what_was_sent(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    status = await bot.send_message(ALICE_ID, "В очереди…")

    async def finish_later() -> None:
        await asyncio.sleep(0.1)
        await bot.edit_message_text("Готово: кот", chat_id=ALICE_ID, message_id=status.message_id)

    finisher = asyncio.create_task(finish_later())
    done = await fake.wait_for_text(ALICE_ID, "Готово", timeout=5)
    await finisher

    assert done.message_id == status.message_id
    assert await fake.wait_for_text(ALICE_ID, "В очереди", timeout=0) is done
    with pytest.raises(AssertionError, match=r"(?s)waiting for a photo in chat 1001.*'В очереди…' -> 'Готово: кот'"):
        await fake.wait_for_photo(ALICE_ID, timeout=0.1)


async def test_wait_for_message_after_an_id(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    first = await bot.send_message(ALICE_ID, "один")
    await bot.send_message(ALICE_ID, "два")

    later: SentMessage = await fake.wait_for_message(ALICE_ID, after=first.message_id, timeout=1)
    photo_free = await fake.wait_for(lambda record: record.photo is None and record.text == "один", timeout=1)

    assert later.text == "два"
    assert photo_free.message_id == first.message_id


async def test_injected_failures(fake: FakeTelegramAPI, bot: Bot, alice: dict) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=3)
    fake.fail_next("sendPhoto", status=500)

    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(ALICE_ID, "слишком часто")
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_photo(ALICE_ID, BufferedInputFile(png(), filename="p.png"))

    assert flood.value.retry_after == 3
    assert "Too Many Requests: retry after 3" in flood.value.message
    assert (await bot.send_message(ALICE_ID, "теперь можно")).text == "теперь можно"
    assert [record.text for record in fake.messages(ALICE_ID)] == ["теперь можно"]
