"""Zoom out and pan (🔍 ×1.5, 🔍 ×2, ⬅️ ➡️ ⬆️ ⬇️ under a single picture): the job a press queues and what its
picture's caption says was done. The worker paints the new border (``models.outpaint``)."""

from __future__ import annotations

from core.keys import image_key
from core.protocol import ChatRef, GenerateJob
from handlers.buttons import Action
from handlers.texts import t


def zoom_job(
    original: GenerateJob, chat: ChatRef, pressed: Action, seed: int, nsfw_threshold: float | None
) -> GenerateJob:
    """The job a zoom or pan press queues on the original's generator: the same description, style and negative,
    a new seed, one picture, starting from the pressed picture."""
    return original.model_copy(
        update={
            "chat": chat,
            "seed": seed,
            "init_image_key": image_key(pressed.job_id, pressed.index),
            "photo_key": None,  # it starts from the picture, not from the photo that one started from
            "best_of": None,
            "num_images": 1,
            "outpaint": pressed.outpaint,
            "nsfw_threshold": nsfw_threshold,
        }
    )


def caption_note(job: GenerateJob, lang: str) -> str:
    """What a zoom or pan did, as a caption line (``""`` for any other picture)."""
    return "" if job.outpaint is None else "\n" + t(f"outpaint_done_{job.outpaint}", lang)
