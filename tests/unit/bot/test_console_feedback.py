"""Feedback in the terminal chat (issue #22): ``/press 👍`` under a picture or a classification answer, U recorded as
a choice, ``/forget`` (``/забудь_меня``); the same use cases as Telegram's and Discord's, feedback in the bot's own
store on a SQLite file."""

from __future__ import annotations

import pytest

from bot.console import ConsoleOutbox, ConsoleSession
from core.keys import image_key
from handlers.buttons import result_keyboard
from handlers.feedback import result_buttons
from handlers.texts import t
from tests import images
from tests.factories import feedback_database, make_molbert
from tests.memory import MemoryJobs


@pytest.fixture
async def console(tmp_path, aredis):
    async with feedback_database(f"sqlite+aiosqlite:///{tmp_path / 'feedback.sqlite3'}", aredis) as store:
        jobs = MemoryJobs()
        molbert = make_molbert(jobs, feedback_store=store)
        yield ConsoleSession(molbert, ConsoleOutbox(tmp_path / "images")), jobs, store


async def painted_grid_of_two(session, jobs) -> None:
    """``/imagine кот --n 2`` answered as the listener would: a 2-picture grid with its buttons in the terminal."""
    await session.handle_line("/imagine кот --n 2\n")
    [job_id] = jobs.jobs
    for index in range(2):
        jobs.images[image_key(job_id, index)] = images.png(30 + index, 20)
    keyboard = result_buttons(result_keyboard(job_id, 2), job_id)
    await session.outbox.send_photo(session.chat(), images.png(60, 20), "🎨 кот", keyboard)


async def test_the_terminal_rates_picks_and_forgets(console, capsys):
    session, jobs, store = console
    await painted_grid_of_two(session, jobs)
    assert "👍 👎" in capsys.readouterr().out  # listed with the other buttons for /press
    await session.handle_line("/press 👍\n")
    await session.handle_line("/press U2\n")
    assert t("feedback_up", "ru") in capsys.readouterr().out
    assert await store.flush()
    counts = await store.store.counts()
    assert (counts.results, counts.votes, counts.choices) == (1, 1, 1)

    await session.handle_line("/забудь_меня\n")
    assert t("forget_done", "ru", where="Console", count=3) in capsys.readouterr().out
    counts = await store.store.counts()
    assert (counts.results, counts.votes, counts.choices) == (0, 0, 0)


async def test_a_classification_answer_gets_its_votes_in_the_terminal(console, capsys):
    session, _jobs, _store = console
    status = await session.outbox.send_text(session.chat(), "⏳")
    await session.outbox.edit_text(session.chat(), status, "кошка 90%", result_buttons(None, "console-classify-l-1"))
    await session.handle_line("/press 👎\n")
    assert t("feedback_down", "ru") in capsys.readouterr().out


async def test_enlarging_the_u_image_in_the_terminal_is_a_second_choice_of_its_cell(console, capsys):
    """U2, then ⤴ ×2 under the picture U sent: the terminal records both presses as choices (the re-ranker reads
    them as one preference for cell 2), as Telegram does."""
    session, jobs, store = console
    await painted_grid_of_two(session, jobs)
    await session.handle_line("/press U2\n")
    assert "⤴ ×2" in capsys.readouterr().out  # the U image came with its own buttons
    await session.handle_line("/press ⤴ ×2\n")
    assert await store.flush()
    assert (await store.store.counts()).choices == 2
