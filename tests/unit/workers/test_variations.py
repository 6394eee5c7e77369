"""Subtle and strong variations end to end in one process: the shared handlers queue a picture and a V press on a
real Redis, the real worker paints both with the tiny preset, and the image-to-image pipeline is called with the
strength the pressed button names (and at least one denoising step, after a picture painted with ``--steps 1``)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.queue import RedisJobs
from core.protocol import ChatRef, job_id_for
from handlers.buttons import STRONG, SUBTLE, VARY_STRENGTHS
from handlers.texts import t
from tests.factories import make_molbert, work_until_empty
from tests.memory import MemoryOutbox


class RecordingPipeline:
    """The generator's real image-to-image pipeline, with the keyword arguments of each call recorded."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.pipe(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)


@pytest.mark.parametrize(("strength", "expected"), [(SUBTLE, VARY_STRENGTHS[SUBTLE]), (STRONG, VARY_STRENGTHS[STRONG])])
async def test_the_pressed_strength_reaches_the_image_to_image_pipeline(
    tiny_models, redis_conn, monkeypatch, strength, expected
):
    pipe, params = tiny_models.generator._image_to_image()
    recording = RecordingPipeline(pipe)
    monkeypatch.setattr(tiny_models.generator, "_img2img", (recording, params))
    jobs, outbox = RedisJobs(redis_conn), MemoryOutbox()
    molbert = make_molbert(jobs)
    chat = ChatRef(platform="telegram", chat_id=5, user_id=5, message_id=1)
    job_id = await molbert.imagine(chat, "маяк на скале --steps 1", outbox)
    work_until_empty(tiny_models, redis_conn)
    pressed = chat.model_copy(update={"message_id": 2})
    notice = await molbert.press(pressed, f"v:{job_id}:0:{strength}", "press-1", outbox)
    assert notice == t("button_accepted", "ru")
    work_until_empty(tiny_models, redis_conn)
    [call] = recording.calls
    assert call["strength"] == expected
    assert int(call["num_inference_steps"] * call["strength"]) >= 1, "at least one denoising step"
    variation = await jobs.load_generation(job_id_for(pressed, "vary", "press-1"))
    assert variation is not None and variation.steps == 1  # the request is unchanged: only the call has more steps
