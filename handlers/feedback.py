"""Feedback (issue #22): 👍/👎 under every result, and the U/V/🔄 presses under a grid (and ⤴/🔍 under the U image
of one of its cells) as implicit preferences.

A vote is answered at once (the notice says which vote was kept; pressing the other one changes it), one per user
and result; the store keeps the last. Nothing is recorded in a chat whose ``/settings`` turned collecting off,
and ``/forget`` deletes a user's records on their platform. The store buffers: the database being away never
delays an answer or a picture (``handlers.ports.FeedbackStore``).
"""

from __future__ import annotations

import logging

from core.protocol import ChatRef
from handlers import buttons
from handlers.chat_settings import ChatSettings
from handlers.ports import FeedbackStore, Keyboard
from handlers.texts import t

log = logging.getLogger(__name__)

_shown = {"buttons": True}


def show_buttons(enabled: bool) -> None:
    """Whether results get 👍/👎 (``FEEDBACK_ENABLED``; set once as the frontend process starts)."""
    _shown["buttons"] = enabled


def result_buttons(keyboard: Keyboard | None, job_id: str) -> Keyboard | None:
    """A result's buttons with 👍/👎 added, unless feedback is switched off for the whole bot."""
    if not _shown["buttons"]:
        return keyboard
    return buttons.with_feedback(keyboard, job_id) or None


class NullFeedback:
    """The :class:`~handlers.ports.FeedbackStore` when collecting is off (``FEEDBACK_ENABLED=false``), and tests'
    default: nothing is kept, so there is nothing to forget."""

    def record_vote(self, chat: ChatRef, job_id: str, value: int) -> None:
        """Keep nothing."""

    def record_choice(self, chat: ChatRef, job_id: str, verb: str, chosen: int | None) -> None:
        """Keep nothing."""

    async def forget(self, chat: ChatRef) -> int:
        """Nothing was kept."""
        return 0


def vote(store: FeedbackStore, chat: ChatRef, settings: ChatSettings, action: buttons.Action) -> str:
    """A 👍/👎 press: recorded (unless the chat turned collecting off); the notice for the presser."""
    if not settings.collects_feedback:
        return t("feedback_off", chat.lang)
    store.record_vote(chat, action.job_id, action.vote)
    return t("feedback_up" if action.vote > 0 else "feedback_down", chat.lang)


# The presses that choose one picture of a grid: U and V under the grid, and ⤴ / 🔍 and the arrows under a U image
# (their action names the grid's job and the cell: ``single_picture_keyboard``); 🔄 chooses none of them.
CHOOSING_VERBS = (buttons.UPSCALE, buttons.VARY, buttons.ENLARGE, buttons.ZOOM)


def record_press(
    store: FeedbackStore, chat: ChatRef, settings: ChatSettings, action: buttons.Action, pictures: int | None = None
) -> None:
    """An authorised U, V, ⤴, 🔍 (or arrow) or 🔄 press under a result: which picture won (none, for 🔄), for the
    re-ranker. ``pictures``: how many the pressed result has, where its request says so; a press under a result of
    one picture (a ⤴ or 🔍 under a one-picture result, a zoomed or enlarged picture) chose among nothing and is not
    kept (the store leaves out any it could not tell, by the candidates it holds)."""
    if not settings.collects_feedback or action.verb not in (*CHOOSING_VERBS, buttons.REROLL) or pictures == 1:
        return
    chosen = None if action.verb == buttons.REROLL else action.index
    store.record_choice(chat, action.job_id, action.verb, chosen)
