"""Refusing prompts we will not paint: a configurable list of word stems, Russian and English.

In ``core`` because both processes check with it: the frontend a typed prompt, a worker the description its
prompt writer made (✨ enhancement) before painting from it."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

_WORDS = re.compile(r"\w+", re.UNICODE)
DEFAULT_LIST = Path(__file__).resolve().parent / "data" / "blocklist.txt"


@dataclass(frozen=True)
class PromptBlocklist:
    """Blocked words: exact words (or two-word phrases) and stems (``порн*``) matching any word they begin."""

    words: frozenset[str]
    stems: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> PromptBlocklist:
        """Parse one entry per line; blank lines and ``#`` comments are skipped, ``ё`` counts as ``е``."""
        lines = (line.split("#", 1)[0].strip().casefold().replace("ё", "е") for line in text.splitlines())
        entries = [line for line in lines if line]
        stems = tuple(entry[:-1] for entry in entries if entry.endswith("*"))
        return cls(frozenset(entry for entry in entries if not entry.endswith("*")), stems)

    @classmethod
    def load(cls, path: Path | None = None) -> PromptBlocklist:
        """The list in ``path``, or the default one shipped in ``core/data/blocklist.txt``."""
        if path is not None:
            return cls.from_text(path.read_text(encoding="utf-8"))
        # beside this module: ``core`` is a namespace package, which importlib.resources cannot always read
        return cls.from_text(DEFAULT_LIST.read_text(encoding="utf-8"))

    def blocked_word(self, prompt: str) -> str | None:
        """The first word of ``prompt`` that a stem matches, or ``None`` when the prompt is fine."""
        words: list[str] = _WORDS.findall(prompt.casefold().replace("ё", "е"))
        candidates = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        for candidate in candidates:
            if candidate in self.words or candidate.startswith(self.stems):
                return candidate
        return None
