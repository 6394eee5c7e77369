"""The prompt blocklist, which lives in ``core/blocklist.py`` (a worker checks enhanced prompts with it too);
re-exported here, where the use cases have always found it."""

from __future__ import annotations

from core.blocklist import PromptBlocklist

__all__ = ["PromptBlocklist"]
