"""Synthetic preferences for the learned re-ranker's tests: random unit embeddings, and users whose hidden taste
picks the winner of each grid (a fixed direction in image-embedding space, or plain cosine)."""

from __future__ import annotations

import math
import random

from core.preferences import Preference

DIMS = 16


def unit(rng: random.Random, dims: int = DIMS) -> tuple[float, ...]:
    """A random unit vector."""
    vector = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(x * x for x in vector))
    return tuple(x / norm for x in vector)


TASTE = unit(random.Random(1234))  # the users' hidden favourite direction


def along(image: tuple[float, ...], direction: tuple[float, ...] = TASTE) -> float:
    return sum(a * b for a, b in zip(image, direction, strict=True))


def preferences(
    count: int,
    *,
    taste: str = "direction",
    sign: float = 1.0,
    chats: int = 10,
    chat_prefix: str = "chat",
    seed: int = 0,
    start: float = 0.0,
    step: float = 1.0,
    candidates: int = 4,
) -> list[Preference]:
    """``count`` grids; the winner has the largest value along :data:`TASTE` (times ``sign``), or with
    ``taste="cosine"`` the largest cosine to the prompt. Chats take turns; times go up by ``step``."""
    rng = random.Random(seed)
    made = []
    for index in range(count):
        prompt = unit(rng)
        images = tuple(unit(rng) for _ in range(candidates))
        if taste == "cosine":
            values = [along(image, prompt) for image in images]
        else:
            values = [sign * along(image) for image in images]
        chosen = max(range(candidates), key=values.__getitem__)
        made.append(Preference(prompt, images, chosen, f"{chat_prefix}{index % chats}", start + index * step))
    return made
