"""``/describe`` in the terminal chat: a file described, its answer's 🎨 buttons pressed as ``/press 1``, and bad
input named (the whole console process is in tests/e2e/test_console_describe.py)."""

from __future__ import annotations

import pytest

from bot.console import ConsoleOutbox, ConsoleSession
from core.protocol import ChatRef, DescribeJob, Description, GenerateJob, ResultEvent, StoredDescription
from handlers.delivery import deliver_result
from handlers.texts import t
from tests import images
from tests.factories import make_molbert
from tests.memory import MemoryJobs

PROMPTS = ["маяк на скале, акварель", "маяк на скале, гравюра"]


@pytest.fixture
def session(tmp_path) -> tuple[ConsoleSession, MemoryJobs]:
    jobs = MemoryJobs()
    return ConsoleSession(make_molbert(jobs), ConsoleOutbox(tmp_path / "images")), jobs


async def test_a_file_is_queued_for_a_description(session, tmp_path, capsys):
    console, jobs = session
    photo = tmp_path / "маяк.png"
    photo.write_bytes(images.png(40, 30))
    await console.handle_line(f"/опиши {photo}\n")
    [job] = jobs.jobs.values()
    assert isinstance(job, DescribeJob)
    assert "⏳" in capsys.readouterr().out


@pytest.mark.parametrize(("line", "key"), [("/describe nope.jpg", "console_no_describe_file"), ("/describe", None)])
async def test_a_missing_file_or_none_is_said_and_nothing_queued(session, capsys, line, key):
    console, jobs = session
    await console.handle_line(line + "\n")
    expected = t(key, "ru", path="nope.jpg") if key else t("describe_no_photo", "ru")
    assert expected in capsys.readouterr().out
    assert jobs.jobs == {}


async def test_the_answer_lists_its_lines_and_press_1_paints_the_first(session, capsys):
    console, jobs = session
    asked = ChatRef(platform="console", chat_id="local", user_id=console.user, message_id=1)
    description = Description(subject="маяк на скале", traits=["акварель"], prompts=PROMPTS)
    jobs.descriptions["console-describe-local-1"] = StoredDescription(chat=asked, description=description)
    event = ResultEvent(job_id="console-describe-local-1", kind="describe", chat=asked, description=description)
    await deliver_result(event, [], None, console.outbox)
    out = capsys.readouterr().out
    assert f"1. /imagine {PROMPTS[0]}" in out and "🎨 1 🎨 2  ← /press <номер>, например /press 1" in out

    await console.handle_line("/press 2\n")
    [job] = jobs.jobs.values()
    assert isinstance(job, GenerateJob) and job.prompt == PROMPTS[1]
    assert t("button_accepted", "ru") in capsys.readouterr().out


async def test_a_queued_message_offers_no_button(session, tmp_path, capsys):
    console, _jobs = session
    photo = tmp_path / "a.png"
    photo.write_bytes(images.png(40, 30))
    await console.handle_line(f"/describe {photo}\n")
    assert console.outbox.buttons == {} and "/press" not in capsys.readouterr().out
