"""A user's choice among the pictures of one request, as the learned re-ranker reads it (the feedback store writes
it, ``python -m workers train-ranker`` reads it): which candidate won (a U or V press), or that none did (🔄)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preference:
    """One choice: the request's text embedding, each candidate's image embedding (the same CLIP model, unit
    length), the index chosen (``None``: all were rejected), the chat it came from (so that no chat dominates
    training) and when (unix seconds; the held-out split is by time)."""

    prompt_embedding: tuple[float, ...]
    image_embeddings: tuple[tuple[float, ...], ...]
    chosen: int | None
    chat_key: str
    at: float
