"""The models this worker process loaded at start, for job functions to use.

RQ calls job functions by dotted path with JSON arguments only, so the loaded models live here, set once by
``python -m workers`` (or a test) before the first job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.blocklist import PromptBlocklist
    from models.interrogator import Interrogator
    from models.presets import LoadedModels
    from models.ranker import LoadedRanker
    from workers.ranking import RankerSwitch
    from workers.safety import ImageSafety

_loaded: LoadedModels | None = None
_safety: ImageSafety | None = None
_batch_size = 8  # WORKER_BATCH_SIZE
_ranker: RankerSwitch | None = None  # the learned re-ranker's switch; None: cosine


_interrogator: Interrogator | None = None  # /describe's, made on the first /describe

_blocklist: PromptBlocklist | None = None  # SAFETY_BLOCKLIST_FILE: checks ✨ enhanced prompts


def set_batch_size(size: int) -> None:
    """How many waiting classification jobs one job may score in a single forward pass (1: no batching)."""
    global _batch_size
    _batch_size = max(1, size)


def batch_size() -> int:
    """The classification batch size (``WORKER_BATCH_SIZE``)."""
    return _batch_size


def set_models(models: LoadedModels | None, safety: ImageSafety | None = None) -> None:
    """Install (or with ``None`` remove) the models job functions run on, and the output check built on them."""
    global _loaded, _safety
    _loaded = models
    if models is None:
        _safety = None
        set_ranker(None)
    else:
        from workers.safety import ImageSafety

        _safety = safety or ImageSafety(models.classifier)


def safety() -> ImageSafety:
    """The output check for generated images."""
    if _safety is None:
        raise RuntimeError("no models loaded in this process: start workers with `python -m workers`")
    return _safety


def loaded() -> bool:
    """Whether this process has its models (a worker's health check)."""
    return _loaded is not None


def models() -> LoadedModels:
    """The loaded models; a job reaching a process that loaded none fails loudly instead of loading per job."""
    if _loaded is None:
        raise RuntimeError("no models loaded in this process: start workers with `python -m workers`")
    return _loaded


def set_ranker(switch: RankerSwitch | None) -> None:
    """Install (or with ``None`` remove: cosine) the switch that says which ranker ``--best`` and ``/rank`` use."""
    global _ranker
    _ranker = switch


def ranker() -> LoadedRanker | None:
    """The learned ranker to rank with now, or ``None`` for cosine (no switch, or no ranker good enough)."""
    return None if _ranker is None else _ranker.current()


def interrogator() -> Interrogator:
    """``/describe``'s interrogator over the loaded classifier, made on first use (its phrase bank's embeddings are
    computed, or read from the embedding store, then: not at start, where most workers never describe a photo)."""
    global _interrogator
    classifier = models().classifier
    if _interrogator is None or _interrogator.classifier is not classifier:
        from models.interrogator import Interrogator

        _interrogator = Interrogator(classifier)
    return _interrogator


def set_blocklist(blocklist: PromptBlocklist | None) -> None:
    """The prompt blocklist (``SAFETY_BLOCKLIST_FILE``) that enhanced prompts are checked against; ``None``: the
    built-in one."""
    global _blocklist
    _blocklist = blocklist


def blocklist() -> PromptBlocklist:
    """The prompt blocklist the frontend checks typed prompts with: the worker checks ✨ descriptions with it."""
    global _blocklist
    if _blocklist is None:
        from core.blocklist import PromptBlocklist

        _blocklist = PromptBlocklist.load()
    return _blocklist
