"""``python -m bot console``: try Molbert in a terminal, no token needed (like errbot's text mode).

The same handlers and the same queue as in Telegram; images are saved as files whose paths are printed.
Lines are read until end of input; then the console waits for the results still on their way.
"""

from __future__ import annotations

import asyncio
import getpass
import itertools
import logging
import re
import shlex
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import redis.asyncio as aioredis

from bot.results import ResultListener
from core.keys import delivered_key
from core.protocol import ChatRef
from handlers.buttons import CANCEL, REMIX, UPSCALE
from handlers.ports import Keyboard, MessageId, Upload
from handlers.service import Molbert
from handlers.texts import t

log = logging.getLogger(__name__)

PLATFORM = "console"
RESULT_WAIT_SECONDS = 600
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic"})
_FROM = re.compile(r"(?:^|\s)(?:--|—|–)(?:from|фото)\s+(\"[^\"]+\"|'[^']+'|\S+)", re.IGNORECASE)


class ConsoleOutbox:
    """Prints messages to stdout and saves images under ``image_dir``."""

    photos_lossless = True  # saved as the PNG it is

    def __init__(self, image_dir: Path) -> None:
        self.image_dir = image_dir
        self._ids = itertools.count(1)
        self.buttons: dict[str, str] = {}  # the last result's buttons: label → action
        self.buttons_under: MessageId | None = None  # the message they are under
        self.results: dict[str, list[str]] = {}  # every picture's message number → its buttons' actions, for /remix

    async def send_text(
        self, chat: ChatRef, text: str, buttons: Keyboard | None = None, *, quiet: bool = False
    ) -> MessageId:
        """Print a message; return its number (a "queued" message's ✖ is not shown: the terminal has /cancel)."""
        message_id = next(self._ids)
        print(f"molbert [{message_id}]> {text}", flush=True)
        self._offer(message_id, buttons)
        return message_id

    async def edit_text(
        self, chat: ChatRef, message_id: MessageId, text: str, buttons: Keyboard | None = None, *, resend: bool = True
    ) -> bool:
        """Print the new text of an earlier message (the terminal's messages never go away), and its buttons (👍/👎
        under a classification answer) for ``/press``."""
        print(f"molbert [{message_id}, edited]> {text}", flush=True)
        self._offer(message_id, buttons)
        return True

    def _offer(self, message_id: MessageId, buttons: Keyboard | None) -> None:
        """A text's buttons (a /describe answer's 🎨 1…), pressed with ``/press 1``: their number alone is their
        label here (an emoji is awkward to type). A "queued" message's ✖ is not offered: the terminal has /cancel."""
        offered = [button for row in buttons or [] for button in row if not button.action.startswith(f"{CANCEL}:")]
        if not offered:
            return
        self.buttons = {_typed_label(button.text): button.action for button in offered}
        self.buttons_under = message_id
        labels = " ".join(button.text for button in offered)
        print(f"  {labels}  ← /press <номер>, например /press {_typed_label(offered[0].text)}", flush=True)

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str, buttons: Keyboard | None = None) -> MessageId:
        """Save the image, print its path with the caption, and list its buttons for ``/press``."""
        message_id = next(self._ids)
        path = self._save(chat, message_id, photo, "png")
        print(f"molbert [{message_id}]> {caption}\n  🖼  {path}", flush=True)
        self.results[str(message_id)] = []  # a picture alone (U) is remixed too
        self._offer_picture(message_id, buttons)
        return message_id

    def _offer_picture(self, message_id: MessageId, buttons: Keyboard | None) -> None:
        """Make a picture's ``buttons`` the ones ``/press`` presses (by their label: ``/press U1``), and list them."""
        if buttons:
            shown = {button.text.casefold(): button.action for row in buttons for button in row}
            alone = not any(action.startswith(f"{UPSCALE}:") for action in shown.values())  # U's picture (#20)
            # under a picture alone (U's), its buttons join the result's, still pressed as under the result: U2
            # stays pressable (and a second U1 a repeat) as on a platform
            self.buttons = {**self.buttons, **shown} if alone and self.buttons else shown
            if not (alone and self.buttons_under is not None):
                self.buttons_under = message_id
            self.results[str(message_id)] = [button.action for row in buttons for button in row]
            labels = " ".join(button.text for row in buttons for button in row)
            print(f"  {labels}  ← /press <кнопка>, например /press {buttons[0][0].text}", flush=True)

    async def send_document(self, chat: ChatRef, data: bytes, filename: str, caption: str) -> MessageId:
        """Save the file and print its path."""
        message_id = next(self._ids)
        path = self._save(chat, message_id, data, filename.rsplit(".", 1)[-1])
        print(f"molbert [{message_id}]> {caption}\n  📎 {path}", flush=True)
        return message_id

    def _save(self, chat: ChatRef, message_id: int, data: bytes, extension: str) -> Path:
        self.image_dir.mkdir(parents=True, exist_ok=True)
        path = self.image_dir / f"molbert-{chat.message_id}-{message_id}.{extension}"
        path.write_bytes(data)
        return path.resolve()

    async def delete_message(self, chat: ChatRef, message_id: MessageId) -> None:
        """Nothing to delete in a terminal: the status line stays in the scroll-back."""


class ConsoleSession:
    """Turns typed lines into the same use cases the chat frontends call."""

    def __init__(self, molbert: Molbert, outbox: ConsoleOutbox) -> None:
        self.molbert = molbert
        self.outbox = outbox
        self.user = getpass.getuser()
        self.job_ids: list[str] = []

    def chat(self) -> ChatRef:
        """A fresh message in the one console chat (job ids come from message ids, so they must not repeat)."""
        return ChatRef(platform=PLATFORM, chat_id="local", user_id=self.user, message_id=time.time_ns() // 1000)

    async def handle_line(self, line: str) -> None:
        """Run one typed line: a command, or a path to an image with optional labels."""
        typed, _, rest = line.strip().partition(" ")
        command = typed.casefold() if typed.startswith("/") else typed
        chat = self.chat()
        if not command:
            return
        if command == "/start":
            await self.molbert.start(chat, self.outbox, name=self.user)
        elif command == "/help":
            await self.molbert.help(chat, self.outbox, "console_help")
        elif command in ("/imagine", "/draw", "/нарисуй"):
            await self._imagine(chat, rest)
        elif command == "/classify" or Path(command).is_file():
            await self._classify(chat, rest if command == "/classify" else line.strip())
        elif command in ("/describe", "/опиши"):
            await self._describe(chat, rest)
        elif command == "/press":
            await self._press(chat, rest)
        elif command in ("/remix", "/ремикс"):
            self._track(await self._remix(chat, rest))
        elif command == "/queue":
            await self.molbert.queue(chat, self.outbox)
        elif command == "/cancel":
            await self.molbert.cancel(chat, self.outbox)
        elif command in ("/forget", "/забудь_меня"):
            await self.molbert.forget(chat, self.outbox)
        elif command == "/labels":
            await self.molbert.labels(chat, rest, True, self.outbox)  # the terminal's user owns this chat
        elif command in ("/teach", "/научи"):
            self._track(await self._teach(chat, rest))
        elif command in ("/classes", "/классы"):
            await self.molbert.taught_classes(chat, self.outbox)
        elif command in ("/forget_class", "/забудь_класс"):
            await self.molbert.forget_class(chat, rest, True, self.outbox)
        elif command.startswith("/"):
            await self.molbert.refuse(chat, self.outbox, "unknown_command")
        else:
            await self.molbert.refuse(chat, self.outbox, "text_hint")

    async def _press(self, chat: ChatRef, label: str) -> None:
        """``/press U2``: a button under the last picture, by its label."""
        action = self.outbox.buttons.get(console_label(label))
        if action is None:
            buttons = " ".join(button.upper() for button in self.outbox.buttons) or "—"
            await self.molbert.refuse(chat, self.outbox, "console_no_button", label=label.strip(), buttons=buttons)
            return
        under = chat.model_copy(update={"message_id": self.outbox.buttons_under})  # as a platform's press carries
        if action.startswith(f"{REMIX}:"):  # 🖋: show the line to change with /remix
            form = await self.molbert.remix_form(under, action)
            number = self.outbox.buttons_under
            text = form if isinstance(form, str) else t("console_remix", chat.lang, command=form.command, number=number)
            print(f"  {text}", flush=True)
            return
        answered: list[str] = []

        async def answer(notice: str) -> None:  # at once, as a platform's toast: before the picture U sends
            answered.append(notice)
            print(f"  ({notice})", flush=True)

        notice = await self.molbert.press(under, action, str(time.time_ns()), self.outbox, answer=answer)
        if not answered:  # the press ended before its notice was given (Redis away)
            await answer(notice)

    async def _remix(self, chat: ChatRef, arguments: str) -> str | None:
        """``/remix 12 а без шляпы``: change the request of picture [12] (without a number: the last picture), as a
        reply to it does in a chat."""
        number, _, text = arguments.strip().partition(" ")
        if not number.isdigit():
            number, text = str(self.outbox.buttons_under or ""), arguments.strip()
        actions = self.outbox.results.get(number)
        job_id = await self.molbert.remix_target(chat, number, actions) if actions is not None else None
        if job_id is None:
            pictures = " ".join(f"[{n}]" for n in self.outbox.results) or "—"
            await self.molbert.refuse(chat, self.outbox, "console_no_picture", number=number or "—", pictures=pictures)
            return None
        return await self.molbert.remix(chat, job_id, text, self.outbox)

    async def _imagine(self, chat: ChatRef, arguments: str) -> None:
        """``<описание> [--options] [--from photo.jpg]``: the picture starts from the photo when one is named."""
        text, typed = split_photo(arguments)
        if typed is None:
            self._track(await self.molbert.imagine(chat, text, self.outbox))
            return
        path = Path(typed).expanduser()
        if not path.is_file():
            await self.molbert.refuse(chat, self.outbox, "console_no_file", path=typed or "—")
            return

        async def read() -> bytes:
            return path.read_bytes()

        photo = Upload(read, path.stat().st_size)
        self._track(await self.molbert.imagine(chat, text, self.outbox, photo=photo))

    async def _classify(self, chat: ChatRef, arguments: str) -> None:
        """``<path> [labels]`` — the path may be quoted if it has spaces."""
        typed, caption = split_path(arguments)
        path = Path(typed).expanduser()
        if not path.is_file():
            await self.molbert.refuse(chat, self.outbox, "console_no_file", path=typed or "—")
            return

        async def read() -> bytes:
            return path.read_bytes()

        self._track(await self.molbert.classify(chat, read, path.stat().st_size, caption or None, self.outbox))

    async def _describe(self, chat: ChatRef, arguments: str) -> None:
        """``/describe photo.jpg``: the picture described, with ready ``/imagine`` lines (``/press 1`` paints one)."""
        typed, _rest = split_path(arguments)
        path = Path(typed).expanduser()
        if not typed:
            await self.molbert.describe(chat, None, self.outbox)  # says how to ask
            return
        if not path.is_file():
            await self.molbert.refuse(chat, self.outbox, "console_no_describe_file", path=typed)
            return

        async def read() -> bytes:
            return path.read_bytes()

        self._track(await self.molbert.describe(chat, Upload(read, path.stat().st_size), self.outbox))

    async def _teach(self, chat: ChatRef, arguments: str) -> str | None:
        """``/teach Мурка a.jpg b.jpg``: teach the class from the photos named after it (the terminal's user owns
        this chat, so may teach)."""
        name, typed = split_teach(arguments)
        missing = next((path for path in typed if not Path(path).expanduser().is_file()), None)
        if missing is not None:
            await self.molbert.refuse(chat, self.outbox, "console_no_file", path=missing)
            return None
        return await self.molbert.teach(
            chat, [_file_upload(Path(path).expanduser()) for path in typed], name, True, self.outbox
        )

    def _track(self, job_id: str | None) -> None:
        if job_id is not None:
            self.job_ids.append(job_id)


def _typed_label(text: str) -> str:
    """How a text's button is typed after ``/press``: its letters and digits (``🎨 2`` → ``2``), lower case."""
    return "".join(character for character in text if character.isalnum()).casefold() or text.casefold()


def split_photo(arguments: str) -> tuple[str, str | None]:
    """``кот --from photo.jpg --n 2`` → ``("кот --n 2", "photo.jpg")``: the ``/imagine`` text without the photo's
    path (quoted if it has spaces), and the path (``None`` when no ``--from``/``--фото`` is given)."""
    match = _FROM.search(arguments)
    if match is None:
        return arguments, None
    path = match.group(1)
    if path[:1] in ("'", '"'):
        path = path[1:-1]
    return f"{arguments[: match.start()]} {arguments[match.end() :]}".strip(), path


def split_teach(arguments: str) -> tuple[str, list[str]]:
    """``Мурка a.jpg "my b.png"`` → ``("Мурка", ["a.jpg", "my b.png"])``: the class name, then the photos (the
    words at the end that name files, or look like image files; quoted if they have spaces)."""
    try:
        words = shlex.split(arguments)
    except ValueError:  # an unbalanced quote: a name such as д'Артаньян
        words = arguments.split()
    cut = len(words)
    while cut > 0 and _is_photo_path(words[cut - 1]):
        cut -= 1
    return " ".join(words[:cut]), words[cut:]


def _is_photo_path(word: str) -> bool:
    return Path(word).expanduser().is_file() or Path(word).suffix.lower() in IMAGE_SUFFIXES


def _file_upload(path: Path) -> Upload:
    async def read() -> bytes:
        return path.read_bytes()

    return Upload(read, path.stat().st_size)


def split_path(arguments: str) -> tuple[str, str]:
    """``photo.jpg кошка, собака`` → the path and the rest; a path with spaces is quoted (``"my photo.jpg" …``).

    Only a leading quote is special: the labels are free text (``д'Артаньян``, ``"кот"``).
    """
    text = arguments.strip()
    if text[:1] in ("'", '"') and (end := text.find(text[0], 1)) > 0:
        return text[1:end], text[end + 1 :].strip()
    path, _, rest = text.partition(" ")
    return path, rest.strip()


async def run_console(molbert: Molbert, results: aioredis.Redis, data_dir: Path) -> None:
    """Read commands from stdin until it ends, then wait for the outstanding results."""
    outbox = ConsoleOutbox(data_dir / "console")
    session = ConsoleSession(molbert, outbox)
    listener = ResultListener(results, PLATFORM, outbox, classes=molbert.classes)
    listener_task = asyncio.create_task(listener.run(), name="console-results")
    print("Molbert console. Try: /imagine кот в космосе · /classify photo.jpg кошка, собака · /help", flush=True)
    try:
        async for line in _stdin_lines():
            await session.handle_line(line)
        await _wait_delivered(results, session)
    finally:
        listener.stop()
        await asyncio.gather(listener_task, return_exceptions=True)


async def _stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin, read by a daemon thread so a blocked read never holds up shutdown."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    while (line := await lines.get()) is not None:
        yield line


async def _wait_delivered(results: aioredis.Redis, session: ConsoleSession) -> None:
    """Wait for every job this session queued (typed ones, and those its button presses queued) to arrive."""
    deadline = time.monotonic() + RESULT_WAIT_SECONDS
    pending = set(session.job_ids)
    while time.monotonic() < deadline:
        pending |= {job.job_id for job in await session.molbert.jobs.user_jobs(session.chat())}
        waiting = [job_id for job_id in pending if not await results.exists(delivered_key(job_id))]
        if not waiting:
            return
        await asyncio.sleep(0.2)
    log.warning("gave up waiting for jobs %s", ", ".join(sorted(pending)))


def console_label(typed: str) -> str:
    """The button label ``/press`` means: as typed, or ⤴ ×2 / ×4 for ``x2``, ``×4`` (a terminal types no ⤴, #20)."""
    label = typed.strip().casefold()
    factor = label.lstrip("⤴ ×x")
    return f"⤴ ×{factor}" if factor in ("2", "4") and label != factor else label
