"""``/describe`` with the in-memory adapter: the photo's checks (nothing queued for bad input), the job, the answer
with its 🎨 buttons, and a press that paints a line for the presser with a typed /imagine's checks."""

from __future__ import annotations

import logging
from functools import partial

import pytest

from core.keys import input_key
from core.protocol import (
    CLASSIFY_QUEUE,
    DescribeJob,
    Description,
    GenerateJob,
    ResultEvent,
    StoredDescription,
    job_id_for,
)
from handlers import buttons, describe
from handlers.delivery import deliver_result
from handlers.errors import UserError
from handlers.ports import ACTION_MAX_BYTES, Upload
from handlers.safety import PromptBlocklist
from handlers.texts import RU, t
from tests import factories, images
from tests.factories import make_molbert

chat = partial(factories.chat, platform="memory")
PROMPTS = ["кот на подоконнике, акварель, мягкий свет", "кот на подоконнике, масло", "рыжий кот, акварель"]


def upload(data: bytes, size: int | None = None) -> Upload:
    downloads = []

    async def download() -> bytes:
        downloads.append(1)
        return data

    found = Upload(download, len(data) if size is None else size)
    object.__setattr__(found, "downloads", downloads)  # frozen dataclass: how often it was fetched, for the test
    return found


def described(job_id: str = "memory-describe-42-1", asked=None) -> StoredDescription:
    description = Description(subject="кот на подоконнике", traits=["акварель", "мягкий свет"], prompts=PROMPTS)
    return StoredDescription(chat=asked or chat(1), description=description)


async def test_a_photo_is_queued_for_a_description_on_the_photo_queue(jobs, outbox):
    molbert = make_molbert(jobs)
    job_id = await molbert.describe(chat(1), upload(images.png()), outbox)
    assert job_id == job_id_for(chat(1), "describe")
    job = jobs.jobs[job_id]
    assert isinstance(job, DescribeJob) and job.image_key == input_key(job_id)
    assert jobs.images[job.image_key][:2] == b"\xff\xd8"  # checked and stored as JPEG
    assert outbox.texts == [t("queued_next", "ru")]


@pytest.mark.parametrize(
    ("photo", "key"),
    [
        (None, "describe_no_photo"),
        (upload(b"%PDF-1.4 not a picture"), "image_unreadable"),
        (upload(images.truncated(images.png())), "image_unreadable"),
        (upload(images.png(), size=200 * 2**20), "file_too_big"),
        (upload(images.png_bomb()), "image_too_many_pixels"),
    ],
)
async def test_bad_input_is_answered_plainly_and_nothing_is_queued(jobs, outbox, photo, key, caplog):
    caplog.set_level(logging.INFO)
    molbert = make_molbert(jobs)
    assert await molbert.describe(chat(1), photo, outbox) is None
    assert jobs.jobs == {} and jobs.images == {}
    assert outbox.texts[0][:20] == RU[key][:20]
    assert "PDF" not in caplog.text and "\\x" not in caplog.text  # nothing of the file in the logs
    if key == "file_too_big":
        assert photo.downloads == []  # refused by its size, before any download


async def test_the_answer_shows_the_description_and_one_button_per_line(outbox):
    event = ResultEvent(
        job_id="memory-describe-42-1", kind="describe", chat=chat(1), description=described().description
    )
    await deliver_result(event, [], None, outbox)
    message = outbox.sent[-1]
    assert message.text.startswith("📝 Похоже, это кот на подоконнике — акварель, мягкий свет.")
    assert [f"{n}. /imagine {prompt}" for n, prompt in enumerate(PROMPTS, 1)] == message.text.splitlines()[-3:]
    assert [[button.action for button in row] for row in message.buttons] == [
        [f"d:memory-describe-42-1:{index}" for index in range(3)]
    ]
    assert [button.text for button in message.buttons[0]] == ["🎨 1", "🎨 2", "🎨 3"]


def test_discord_lines_are_its_slash_command_and_english_is_english():
    description = described().description
    on_discord = ResultEvent(
        job_id="d1", kind="describe", chat=chat(platform="discord", lang="en"), description=description
    )
    text = describe.render(on_discord)
    assert text.startswith("📝 It looks like: кот на подоконнике")
    assert f"1. /imagine prompt: {PROMPTS[0]}" in text


def test_a_describe_action_fits_and_parses_and_is_no_remix_target():
    longest = "d" * 60
    action = f"{buttons.DESCRIBE}:{longest}:3"
    assert len(action.encode()) <= ACTION_MAX_BYTES
    assert buttons.parse_action(action) == buttons.Action(buttons.DESCRIBE, longest, 3)
    assert buttons.parse_action(f"{buttons.DESCRIBE}:{longest}:4") is None
    assert buttons.job_of([f"{buttons.DESCRIBE}:job:0"]) is None  # a reply to a /describe answer is no remix
    with pytest.raises(ValueError):
        describe.keyboard("j" * 62, 1, "ru")


async def test_a_press_paints_that_line_for_the_presser(jobs, outbox):
    molbert = make_molbert(jobs)
    jobs.descriptions["memory-describe-42-1"] = described()
    presser = chat(500, user_id=8)  # someone else in the same chat: a typed /imagine of the line is theirs too
    notice = await molbert.press(presser, "d:memory-describe-42-1:1", "press-1", outbox)
    assert notice == t("button_accepted", "ru")
    job_id = job_id_for(presser, "dpaint", "press-1")
    job = jobs.jobs[job_id]
    assert isinstance(job, GenerateJob)
    assert job.prompt == PROMPTS[1] and job.chat == presser and job.photo_key is None


@pytest.mark.parametrize(
    "action",
    ["d:memory-describe-42-1:3", "d:gone:0", "d:memory-describe-42-1:x"],
)
async def test_a_press_of_a_line_that_is_not_there_is_stale(jobs, outbox, action):
    molbert = make_molbert(jobs)
    jobs.descriptions["memory-describe-42-1"] = described()
    assert await molbert.press(chat(500), action, "press-1", outbox) == t("button_stale", "ru")
    assert jobs.jobs == {}


async def test_a_press_from_another_chat_is_stale(jobs, outbox):
    molbert = make_molbert(jobs)
    jobs.descriptions["memory-describe-42-1"] = described()
    elsewhere = chat(500, chat_id=99)
    assert await molbert.press(elsewhere, "d:memory-describe-42-1:0", "press-1", outbox) == t("button_stale", "ru")
    assert jobs.jobs == {}


async def test_a_pressed_line_is_checked_like_a_typed_imagine(jobs, outbox, tmp_path):
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("акварел*\n")
    molbert = make_molbert(jobs, blocklist=PromptBlocklist.load(blocklist))
    jobs.descriptions["memory-describe-42-1"] = described()
    assert await molbert.press(chat(500), "d:memory-describe-42-1:0", "p1", outbox) == t("prompt_blocked", "ru")
    assert jobs.jobs == {}
    assert await molbert.press(chat(501), "d:memory-describe-42-1:1", "p2", outbox) == t("button_accepted", "ru")
    assert len(jobs.jobs) == 1


async def test_a_queued_description_counts_as_a_photo_job(jobs, outbox):
    molbert = make_molbert(jobs)
    await molbert.describe(chat(1), upload(images.png()), outbox)
    (queued,) = await jobs.user_jobs(chat(1))
    assert queued.queue == CLASSIFY_QUEUE


async def test_no_photo_needs_no_user_error_from_the_platform():
    with pytest.raises(UserError) as err:
        await describe.checked_photo(None)
    assert err.value.key == "describe_no_photo"
