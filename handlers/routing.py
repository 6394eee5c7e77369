"""Which queue a picture goes to: one queue per generator class, chosen with ``/imagine … --model NAME``.

A deployment with mixed GPUs runs a big preset on the big cards and a small one elsewhere; each group of workers
listens on its own queue (``WORKER_QUEUES``), and the frontends map the names users type to those queues
(``BOT_GENERATORS="quality=molbert-generate-quality,fast=molbert-generate-fast"``; the first is the default).
Unconfigured, every picture goes to the one queue, ``molbert-generate``.

A generator that paints from text only (Kandinsky 5 Image Lite has no image-to-image pipeline) is named in
``BOT_TEXT_ONLY_GENERATORS``: a picture asked from a photo goes to another generator of the table instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.protocol import GENERATE_QUEUE
from handlers.errors import UserError

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


@dataclass(frozen=True)
class GeneratorRoutes:
    """Generator names users may choose, each with its RQ queue; the first one is the default."""

    queues: dict[str, str] = field(default_factory=dict)
    text_only: frozenset[str] = frozenset()  # names whose generators cannot paint from a photo

    @classmethod
    def parse(cls, text: str, text_only: str = "") -> GeneratorRoutes:
        """Read ``name=queue, name=queue…`` (and the names in ``text_only``, comma-separated, that paint from text
        only); raise ``ValueError`` naming what is wrong."""
        queues: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, queue = (piece.strip() for piece in item.partition("="))
            if not sep or not _NAME.match(name.lower()) or not _QUEUE.match(queue):
                raise ValueError(f"expected name=queue pairs (name: a-z, 0-9, _ or -), got {item!r}")
            if name.lower() in queues:
                raise ValueError(f"the name {name.lower()!r} appears twice")
            queues[name.lower()] = queue
        names = frozenset(filter(None, (part.strip().lower() for part in text_only.split(","))))
        if unknown := sorted(names - queues.keys()):
            raise ValueError(f"text-only generators {', '.join(unknown)} are not in the table of generators")
        return cls(queues, names)

    @property
    def names(self) -> list[str]:
        """The names ``--model`` accepts, the default first (empty when there is only the one queue)."""
        return list(self.queues)

    @property
    def all_queues(self) -> list[str]:
        """Every queue pictures may wait in."""
        return list(dict.fromkeys(self.queues.values())) or [GENERATE_QUEUE]

    def check(self, generator: str | None) -> None:
        """Refuse a ``--model`` this deployment does not have, listing the ones it has."""
        if generator is None or generator in self.queues:
            return
        if not self.queues:
            raise UserError("option_model_single")
        raise UserError("option_model", value=generator, models=", ".join(self.names))

    def queue_for(self, generator: str | None) -> str:
        """The queue for a picture asking for ``generator`` (``None``: the default)."""
        if generator is not None and generator in self.queues:
            return self.queues[generator]
        return next(iter(self.queues.values()), GENERATE_QUEUE)

    def for_photo(self, generator: str | None) -> str | None:
        """The generator to paint a picture that starts from a photo, asked with ``--model generator`` (``None``:
        the default): that one when it can, else the first of the table that can; :class:`UserError` when none
        can (the deployment paints from text only)."""
        asked = generator or next(iter(self.queues), None)
        if asked is None or asked not in self.text_only:
            return generator
        able = next((name for name in self.queues if name not in self.text_only), None)
        if able is None:
            raise UserError("imagine_photo_impossible", model=asked)
        return able
