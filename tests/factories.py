"""Building the objects tests need, with the defaults tests usually want."""

from __future__ import annotations

from handlers.access import AccessPolicy
from handlers.chat_settings import MemoryChatSettings
from handlers.ports import Admission, ChatSettingsStore, JobSubmitter
from handlers.routing import GeneratorRoutes
from handlers.safety import PromptBlocklist
from handlers.service import Molbert
from tests.memory import MemoryJobs


def make_molbert(
    jobs: JobSubmitter | None = None,
    *,
    settings: ChatSettingsStore | None = None,
    admission: Admission | None = None,
    blocklist: PromptBlocklist | None = None,
    access: AccessPolicy | None = None,
    routes: GeneratorRoutes | None = None,
    nsfw_threshold: float = 0.5,
    kind: type[Molbert] = Molbert,
) -> Molbert:
    """A :class:`Molbert` (or a subclass, ``kind``) for a test: jobs in memory, chat settings in memory, no limits,
    the default blocklist, everyone allowed, the default generator; any of them can be given instead."""
    return kind(
        jobs if jobs is not None else MemoryJobs(),
        settings=settings if settings is not None else MemoryChatSettings(),
        admission=admission,
        blocklist=blocklist if blocklist is not None else PromptBlocklist.load(),
        access=access if access is not None else AccessPolicy(),
        routes=routes if routes is not None else GeneratorRoutes(),
        nsfw_threshold=nsfw_threshold,
    )
