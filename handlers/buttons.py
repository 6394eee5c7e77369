"""The buttons under a generated picture — U (the image alone, full size), V and ~ (strong and subtle variations,
like Midjourney's Vary (Strong) / Vary (Subtle)), 🔄 (reroll) — and the ✖ under a "queued" message, with their
``action`` strings: ``u:<job id>:<index>``, ``v:<job id>:<index>:<strength>``, ``r:<job id>``, ``x:<job id>``,
🖋 (remix) ``m:<job id>``, ✨ (repaint from an enhanced description) ``e:<job id>``; 👍/👎 under every result
``f:<job id>:+`` / ``f:<job id>:-``.

A V action's ``<strength>`` is ``h`` (strong) or ``l`` (subtle); a V button sent before strengths existed has none
(``v:<job id>:<index>``) and still works: its variation keeps the request's own strength, as it always did.

Under a single picture (a one-picture result, a U image) of a model that can outpaint: 🔍 ×1.5, 🔍 ×2 (zoom out) and
⬅️ ➡️ ⬆️ ⬇️ (pan), ``z:<job id>:<index>:<code>`` with a ``core.protocol.OUTPAINT_CODES`` code."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from core.protocol import PAN_DOWN, PAN_LEFT, PAN_RIGHT, PAN_UP, ZOOM_OUT_2, ZOOM_OUT_15
from handlers.ports import ACTION_MAX_BYTES, Button, Keyboard
from handlers.texts import t

UPSCALE, VARY, REROLL, CANCEL = "u", "v", "r", "x"
REMIX = "m"  # 🖋: change the request (``m:<job id>``); each platform asks for the change its own way
DESCRIBE = "d"  # 🎨 under a /describe answer: paint its i-th /imagine line (``d:<job id>:<i>``, handlers/describe.py)
FEEDBACK = "f"  # 👍 / 👎: ``f:<job id>:+`` or ``f:<job id>:-`` (handlers/feedback.py)
ENLARGE = "s"  # ⤴ ×2 / ×4 under a single picture: super-resolution (``s:<job id>:<index>:<2|4>``, #20)
ENHANCE = "e"  # ✨: paint the request again from a richer description the worker writes (``e:<job id>``)
SUBTLE, STRONG = "l", "h"  # a V action's strength: low or high variation
# image-to-image strength (how far from the picture a variation may move) of each; an old V button's is the request's
VARY_STRENGTHS = {SUBTLE: 0.35, STRONG: 0.75}
_ACTION = re.compile(
    r"^(?P<verb>[uv]):(?P<job>[A-Za-z0-9_-]{1,56}):(?P<index>[0-3])$"  # U and V name one of up to four images
    r"|^(?P<vverb>v):(?P<vjob>[A-Za-z0-9_-]{1,56}):(?P<vindex>[0-3]):(?P<strength>[lh])$"  # V with its strength
    r"|^(?P<jverb>[rxme]):(?P<rjob>[A-Za-z0-9_-]{1,60})$"  # 🔄, ✖, 🖋 and ✨ name a job
    r"|^(?P<dverb>d):(?P<djob>[A-Za-z0-9_-]{1,60}):(?P<dindex>[0-3])$"  # /describe's 🎨 names one of its lines
    r"|^(?P<zverb>z):(?P<zjob>[A-Za-z0-9_-]{1,56}):(?P<zindex>[0-3]):(?P<code>o15|o2|l|r|u|d)$"  # zoom out / pan
    r"|^(?P<fverb>f):(?P<fjob>[A-Za-z0-9_-]{1,60}):(?P<vote>[+-])$"  # 👍 / 👎 under a result
    r"|^(?P<sverb>s):(?P<sjob>[A-Za-z0-9_-]{1,56}):(?P<sindex>[0-3]):(?P<factor>[24])$"  # ⤴ with its factor
)
ZOOM = "z"  # 🔍 ×1.5, 🔍 ×2, ⬅️ ➡️ ⬆️ ⬇️: outpaint one picture (``z:<job id>:<index>:<code>``)
ZOOM_BUTTONS = (
    (("🔍 ×1.5", ZOOM_OUT_15), ("🔍 ×2", ZOOM_OUT_2)),
    (("⬅️", PAN_LEFT), ("➡️", PAN_RIGHT), ("⬆️", PAN_UP), ("⬇️", PAN_DOWN)),
)


@dataclass(frozen=True)
class Action:
    """A parsed button action."""

    verb: str
    job_id: str
    index: int = 0
    strength: str | None = None  # V: SUBTLE or STRONG; None on a V button older than strengths
    outpaint: str | None = None  # ZOOM: one of core.protocol.OUTPAINT_CODES
    vote: int = 0  # 👍 +1, 👎 -1 (FEEDBACK)
    factor: int | None = None  # ⤴: 2 or 4

    @property
    def vary_strength(self) -> float | None:
        """The image-to-image strength this V press asks for; ``None``: the request's own (an old button)."""
        return VARY_STRENGTHS.get(self.strength or "")


def result_keyboard(
    job_id: str, count: int, variations: bool = True, zoom: bool = False, enhance: bool = False
) -> Keyboard:
    """U1…Un, V1…Vn (strong variations), ~1…~n (subtle ones) and 🔄 for a result of ``count`` images; a single
    picture gets its V1 and ~1 side by side and the rows of :func:`single_picture_keyboard` (zoom out and pan where
    the model can: ``zoom``). No V or ~ for a model that cannot vary them. ``enhance``: a ✨ beside 🔄 and 🖋 (a
    picture painted from the words as typed)."""
    upscale = [Button(f"U{i + 1}", f"{UPSCALE}:{job_id}:{i}") for i in range(count)]
    strong = [Button(f"V{i + 1}", f"{VARY}:{job_id}:{i}:{STRONG}") for i in range(count)] if variations else []
    subtle = [Button(f"~{i + 1}", f"{VARY}:{job_id}:{i}:{SUBTLE}") for i in range(count)] if variations else []
    vary = [strong + subtle] if count == 1 else [strong, subtle]
    again = [Button("🔄", f"{REROLL}:{job_id}"), Button("🖋", f"{REMIX}:{job_id}")]
    again += [Button("✨", f"{ENHANCE}:{job_id}")] if enhance else []
    single = single_picture_keyboard(job_id, 0, zoom) if count == 1 else []  # ⤴ (🔍) under one picture
    keyboard = [row for row in (upscale, *vary, *single, again) if row]
    too_long = [b.action for row in keyboard for b in row if len(b.action.encode()) > ACTION_MAX_BYTES]
    if too_long:
        raise ValueError(f"button actions over {ACTION_MAX_BYTES} bytes: {too_long}")
    return keyboard


def checked_keyboard(keyboard: Keyboard) -> Keyboard:
    """``keyboard`` itself once every action is known to fit ``ACTION_MAX_BYTES`` (a ``ValueError`` otherwise)."""
    too_long = [b.action for row in keyboard for b in row if len(b.action.encode()) > ACTION_MAX_BYTES]
    if too_long:
        raise ValueError(f"button actions over {ACTION_MAX_BYTES} bytes: {too_long}")
    return keyboard


def zoom_rows(job_id: str, index: int) -> Keyboard:
    """The zoom out (🔍 ×1.5, 🔍 ×2) and pan (⬅️ ➡️ ⬆️ ⬇️) rows under the ``index``-th picture of ``job_id``; none
    for a job id too long to fit the action."""
    rows = [[Button(label, f"{ZOOM}:{job_id}:{index}:{code}") for label, code in row] for row in ZOOM_BUTTONS]
    return rows if parse_action(rows[0][0].action) is not None else []


def single_picture_keyboard(job_id: str, index: int, zoom: bool = False) -> Keyboard:
    """The rows under one picture (a U image, a one-picture result): ⤴ ×2 and ⤴ ×4 (super-resolution), and where
    the model can (``zoom``) 🔍 ×1.5 🔍 ×2 beside them and the arrows below (two rows: Discord shows five)."""
    enlarge = upscale_row(job_id, index)
    rows = zoom_rows(job_id, index) if zoom else []
    return [rows[0] + enlarge, *rows[1:]] if rows else [enlarge]


def upscale_row(job_id: str, index: int) -> list[Button]:
    """⤴ ×2 and ⤴ ×4 for the ``index``-th picture of ``job_id``."""
    return [Button(f"⤴ ×{factor}", f"{ENLARGE}:{job_id}:{index}:{factor}") for factor in (2, 4)]


def cancel_keyboard(job_id: str, lang: str) -> Keyboard | None:
    """The ✖ under a "queued" (then progress) message: cancels that job when its owner presses it.

    ``None`` for a job id too long to fit an action (no button rather than one nothing would answer).
    """
    action = f"{CANCEL}:{job_id}"
    if parse_action(action) is None:
        return None
    return [[Button(t("button_cancel", lang), action)]]


def parse_action(action: str) -> Action | None:
    """The action a button carries, or ``None`` for anything we did not make (forged or from another bot)."""
    match = _ACTION.match(action or "")
    if match is None:
        return None
    if match.group("fjob"):
        return Action(FEEDBACK, match.group("fjob"), vote=1 if match.group("vote") == "+" else -1)
    if match.group("rjob"):
        return Action(match.group("jverb"), match.group("rjob"))
    if match.group("zjob"):
        return Action(ZOOM, match.group("zjob"), int(match.group("zindex")), outpaint=match.group("code"))
    if match.group("sjob"):
        return Action(ENLARGE, match.group("sjob"), int(match.group("sindex")), factor=int(match.group("factor")))
    if match.group("vjob"):
        return Action(VARY, match.group("vjob"), int(match.group("vindex")), match.group("strength"))
    if match.group("djob"):
        return Action(DESCRIBE, match.group("djob"), int(match.group("dindex")))
    return Action(match.group("verb"), match.group("job"), int(match.group("index")))


class RepeatedPresses:
    """Tells a repeated press from a new one: the same user pressing the same button under the same message while
    the first press is still being served, or within ``window`` seconds after, is a repeat (a double tap, or a
    storm of taps on a slow connection), which must not send the same picture or queue the same job again.

    Kept in the frontend's process: one process receives a platform's presses (Telegram polling or its webhook,
    Discord's gateway), so nothing needs to be shared.
    """

    def __init__(self, window: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._until: dict[Hashable, float] = {}  # key → when it stops being a repeat (inf while served)

    def start(self, key: Hashable) -> bool:
        """``True`` for a new press (now being served), ``False`` for a repeat."""
        now = self.clock()
        if len(self._until) > 1000:
            self._until = {k: until for k, until in self._until.items() if until > now}
        if self._until.get(key, 0.0) > now:
            return False
        self._until[key] = math.inf
        return True

    def finish(self, key: Hashable, *, linger: bool = True) -> None:
        """The press was served: repeats within the window from now are still repeats (``linger``), or none is."""
        self._until[key] = self.clock() + (self.window if linger else 0.0)


def job_of(actions: Iterable[str]) -> str | None:
    """The generation a result message belongs to, from the actions of its buttons (a reply to it is a remix of
    that job); ``None`` for a message without result buttons (a ✖ names a job not painted yet)."""
    parsed = (parse_action(action) for action in actions)
    return next(
        (action.job_id for action in parsed if action is not None and action.verb not in (CANCEL, DESCRIBE, FEEDBACK)),
        None,
    )  # ✖ names a job not painted yet, 🎨 a /describe answer, 👍/👎 any result (a classification's too): no remix


def with_feedback(keyboard: Keyboard | None, job_id: str) -> Keyboard:
    """``keyboard`` with 👍 and 👎 for the result ``job_id``: in its last row when that has room (Discord shows at
    most five rows of five), else in a row of their own; unchanged for a job id too long for the actions."""
    rows = [list(row) for row in keyboard or []]
    votes = [Button("👍", f"{FEEDBACK}:{job_id}:+"), Button("👎", f"{FEEDBACK}:{job_id}:-")]
    if any(parse_action(button.action) is None for button in votes):
        return rows
    if rows and len(rows[-1]) <= 3:
        rows[-1] += votes
    else:
        rows.append(votes)
    return rows
