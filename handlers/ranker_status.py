"""The ``/stats`` line saying what ``--best`` and ``/rank`` rank with: a learned ranker and its held-out figures,
or plain CLIP cosine and why (issue #22). The workers publish it (``core.protocol.RankerStatus``)."""

from __future__ import annotations

from core.protocol import RankerStatus
from handlers.texts import t


def ranker_line(status: RankerStatus | None, lang: str) -> str | None:
    """The line for ``status`` in ``lang``; ``None`` when no worker has said yet (nothing to show)."""
    if status is None:
        return None
    name, ranker, cosine = status.name, status.ranker, status.cosine
    ndcg1 = f"{ranker.ndcg_at_1:.2f}" if ranker else "?"
    cosine1 = f"{cosine.ndcg_at_1:.2f}" if cosine else "?"
    if status.live:
        return t("stats_ranker_live", lang, name=name, preferences=status.preferences, ndcg1=ndcg1, cosine1=cosine1)
    if status.why == "weak" and name:
        return t("stats_ranker_weak", lang, name=name, ndcg1=ndcg1, cosine1=cosine1)
    if status.why == "other_clip" and name:
        return t("stats_ranker_other_clip", lang, name=name, clip_model=status.clip_model)
    if status.why == "broken":
        return t("stats_ranker_broken", lang)
    return t("stats_ranker_cosine", lang)
