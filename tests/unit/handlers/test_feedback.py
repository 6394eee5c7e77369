"""👍/👎 actions and where they go under a result (handlers/buttons.py, handlers/feedback.py)."""

from __future__ import annotations

from handlers import feedback
from handlers.buttons import ACTION_MAX_BYTES, FEEDBACK, job_of, parse_action, result_keyboard, with_feedback
from handlers.ports import Button


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
