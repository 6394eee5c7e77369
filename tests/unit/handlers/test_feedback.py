"""👍/👎 actions and where they go under a result, and the presses recorded as preferences (handlers/buttons.py,
handlers/feedback.py)."""

from __future__ import annotations

from sqlalchemy import select

from core.feedback_store import choices
from core.keys import feedback_context_key, image_key
from core.protocol import FeedbackContext, GenerateJob
from handlers import feedback
from handlers.buttons import ACTION_MAX_BYTES, FEEDBACK, job_of, parse_action, result_keyboard, with_feedback
from handlers.ports import Button
from tests import images
from tests.factories import chat, feedback_database, make_molbert
from tests.memory import MemoryJobs, MemoryOutbox


def test_votes_parse_and_fit_the_action_limit():
    longest = "j" * 60
    up, down = parse_action(f"f:{longest}:+"), parse_action("f:abc:-")
    assert (up.verb, up.job_id, up.vote) == (FEEDBACK, longest, 1)
    assert (down.verb, down.vote) == (FEEDBACK, -1)
    assert len(f"f:{longest}:+".encode()) <= ACTION_MAX_BYTES
    assert parse_action("f:abc:0") is None and parse_action("f:abc") is None


def test_votes_share_the_last_row_when_it_has_room_and_never_name_a_remix():
    rows = with_feedback(result_keyboard("j1", 4), "j1")
    assert [b.text for b in rows[-1]] == ["🔄", "🖋", "👍", "👎"] and len(rows) == 4
    full = with_feedback([[Button(str(i), f"r:j{i}") for i in range(4)]], "j1")
    assert [b.text for b in full[-1]] == ["👍", "👎"]
    assert with_feedback(None, "j1") == [[Button("👍", "f:j1:+"), Button("👎", "f:j1:-")]]
    assert with_feedback(None, "j" * 61) == []  # too long for an action: no buttons nothing would answer
    assert job_of(["f:j1:+"]) is None  # a reply to a classification answer is no remix


def test_the_operator_can_switch_the_buttons_off():
    try:
        feedback.show_buttons(False)
        assert feedback.result_buttons(None, "j1") is None
    finally:
        feedback.show_buttons(True)
    assert feedback.result_buttons(None, "j1") is not None


async def test_enlarge_and_zoom_under_a_u_image_choose_its_cell_once(tmp_path, aredis):
    """⤴ and 🔍 under the U image of cell 3 of a grid are recorded as choices of that cell (the store keeps every
    press; the re-ranker counts the user's choice once); a ⤴ under a one-picture result chose among nothing and is
    not kept."""
    grid, single = "telegram-imagine-42-1", "telegram-imagine-42-2"
    context = FeedbackContext(
        kind="imagine",
        chat=chat(),
        model="tiny",
        request={"prompt": "кот", "num_images": 4},
        prompt_embedding=[0.5, 0.5],
        image_embeddings=[[1.0, 0.0], [0.0, 1.0], [0.5, 0.75], [0.75, 0.5]],
    )
    await aredis.set(feedback_context_key(grid), context.model_dump_json())
    jobs = MemoryJobs()
    jobs.jobs[grid] = GenerateJob(chat=chat(), prompt="кот", seed=1, num_images=4)
    jobs.jobs[single] = GenerateJob(chat=chat(), prompt="кот", seed=2, num_images=1)
    jobs.images.update({image_key(grid, i): images.png(32, 32) for i in range(4)})
    jobs.images[image_key(single, 0)] = images.png(32, 32)
    jobs.outpaintable.add(grid)
    async with feedback_database(f"sqlite+aiosqlite:///{tmp_path / 'feedback.sqlite3'}", aredis) as store:
        molbert = make_molbert(jobs, feedback_store=store)
        presses = [f"u:{grid}:2", f"s:{grid}:2:2", f"z:{grid}:2:o2", f"s:{single}:0:4"]
        for number, action in enumerate(presses):
            await molbert.press(chat(message_id=10 + number), action, f"press-{number}", MemoryOutbox())
        assert await store.flush()
        async with store.store.engine.connect() as connection:
            kept = (await connection.execute(select(choices.c.verb, choices.c.chosen, choices.c.job_id))).all()
        assert sorted(kept) == [("s", 2, grid), ("u", 2, grid), ("z", 2, grid)]
        [preference] = await store.store.preferences()
        assert preference.chosen == 2 and len(preference.image_embeddings) == 4
