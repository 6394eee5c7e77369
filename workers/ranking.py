"""Which ranker a worker ranks ``--best`` candidates and ``/rank`` albums with: the newest learned ranker saved under
``MODEL_RANKER_DIR`` when it was trained for this worker's CLIP model and its held-out nDCG@1 beat cosine's by more
than ``MODEL_RANKER_MARGIN``; otherwise plain cosine. Loaded at start, and again when a newer version appears (one
directory listing at most every ``CHECK_SECONDS``, at the first ranking after that); each load publishes what is
live at ``core.keys.ranker_key`` for ``/stats``."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import redis

from core.keys import ranker_key
from core.protocol import RankerFigures, RankerStatus, RankerWhy
from models.ranker import DECISIVE_METRIC, LoadedRanker, beats_cosine, clip_model_id, load, version_dir, versions

log = logging.getLogger(__name__)

CHECK_SECONDS = 60.0  # how often a worker looks for a newer ranker
Refusal = tuple[RankerWhy, str]  # why cosine stays: its kind, and the words for the log


def refusal(ranker: LoadedRanker, clip_model: str, margin: float) -> Refusal | None:
    """Why ``ranker`` may not replace cosine on a worker running ``clip_model`` with ``margin``; None: it may."""
    trained_for = ranker.info.get("clip_model")
    if trained_for != clip_model_id(clip_model):
        return "other_clip", f"trained for {trained_for}, not {clip_model_id(clip_model)}"
    if not beats_cosine(ranker.info, margin):
        return "weak", f"held-out {DECISIVE_METRIC} does not beat cosine's by more than {margin}"
    return None


def status_of(ranker: LoadedRanker | None, refused: Refusal | None) -> RankerStatus:
    """The ``/stats`` report of the newest ranker (``None``: none saved) and why it is not live (``None``: live)."""
    why, reason = refused or (None, None)
    if ranker is None:
        return RankerStatus(live=False, why=why or "none", reason=reason or "none saved")
    info = ranker.info
    held_out = info.get("held_out") or {}
    return RankerStatus(
        live=refused is None,
        name=ranker.name,
        reason=reason,
        why=why,
        clip_model=info.get("clip_model"),
        preferences=int(info.get("usable", 0)),
        trained_at=info.get("trained_at"),
        ranker=_figures(held_out.get("ranker")),
        cosine=_figures(held_out.get("cosine")),
    )


def _figures(metrics: dict[str, Any] | None) -> RankerFigures | None:
    if not metrics:
        return None
    return RankerFigures(
        ndcg_at_1=metrics["ndcg@1"], ndcg_at_4=metrics["ndcg@4"], pairwise_accuracy=metrics["pairwise_accuracy"]
    )


class RankerSwitch:
    """Holds the live ranker (or none: cosine) and swaps in a newer saved one when it qualifies."""

    def __init__(
        self,
        directory: Path,
        margin: float,
        clip_model: str,
        connection: redis.Redis | None = None,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.directory, self.margin, self.clip_model = Path(directory), margin, clip_model
        self.connection, self.check_seconds = connection, check_seconds
        self.status = RankerStatus(live=False, reason="not loaded yet")
        self._live: LoadedRanker | None = None
        self._version: int | None = None  # the newest version looked at
        self._looked = False
        self._checked = -math.inf

    def current(self) -> LoadedRanker | None:
        """The ranker to use now (``None``: cosine), after a cheap look for a newer one when it is time."""
        now = time.monotonic()
        if now - self._checked >= self.check_seconds:
            self._checked = now
            self.refresh()
        return self._live

    def refresh(self) -> RankerStatus:
        """Load the newest saved ranker if it is new to this worker, decide whether it is live, publish that."""
        found = versions(self.directory)
        newest = found[-1] if found else None
        if self._looked and newest == self._version:
            return self.status
        self._version, self._looked = newest, True
        ranker: LoadedRanker | None = None
        refused: Refusal | None = None
        if newest is not None:
            try:
                ranker = load(version_dir(self.directory, newest))
                refused = refusal(ranker, self.clip_model, self.margin)
            except Exception as exc:  # half-copied by hand, not a ranker (safetensors has errors of its own)
                log.warning("ranker v%d under %s cannot be loaded (%s); ranking by cosine", newest, self.directory, exc)
                ranker, refused = None, ("broken", f"v{newest} cannot be loaded")
        self._live = ranker if ranker is not None and refused is None else None
        self.status = status_of(ranker, refused)
        why = f" ({self.status.name or 'no ranker'}: {self.status.reason})" if refused else ""
        log.info("ranking by %s%s", self._live.name if self._live else "cosine", why)
        self._publish()
        return self.status

    def _publish(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.set(ranker_key(), self.status.model_dump_json())
        except redis.RedisError as exc:  # /stats only: ranking goes on
            log.warning("could not publish the live ranker: %s", exc)


def ranker_switch(directory: Path, margin: float, clip_model: str, connection: redis.Redis | None) -> RankerSwitch:
    """A worker's switch, loaded at once (so its start log and ``/stats`` say what it ranks with)."""
    switch = RankerSwitch(directory, margin, clip_model, connection)
    switch.current()
    return switch
