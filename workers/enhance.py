"""✨ Prompt enhancement in the worker, before painting: the prompt writer's description replaces the user's words
(checked by the same prompt blocklist as typed prompts), or the words stay as typed and the result says why."""

from __future__ import annotations

import logging

from core.keys import params_key
from core.protocol import GenerateJob
from workers import runtime

log = logging.getLogger(__name__)


def enhance_request(request: GenerateJob, job_id: str, connection) -> tuple[GenerateJob, str | None]:
    """``request`` to paint: with ``enhance``, its prompt replaced by the writer's description (the style's words
    kept after it) and ``enhance`` cleared, so that its ``/imagine`` line repeats the picture; also stored as the
    job's request, so that 🔄, V and 🖋 start from the description shown. Unchanged when not asked or when the
    writer is off, fails, times out, answers nothing usable or a blocked word; then the second value says which."""
    if not request.enhance:
        return request, None
    text, reason = _description(request.prompt, request.seed)
    if text is None:
        log.info("job %s: --enhance fell back to the prompt as typed (%s)", job_id, reason)
        return request, reason
    suffix = _style_words(request)
    enhanced = request.model_copy(
        update={"prompt": text, "model_prompt": text + suffix if suffix else None, "enhance": False}
    )
    connection.set(params_key(job_id), enhanced.model_dump_json(), xx=True, keepttl=True)
    return enhanced, None


def _description(prompt: str, seed: int) -> tuple[str | None, str]:
    """The writer's description of ``prompt`` and ``ok``, or ``None`` and why there is none."""
    lazy = runtime.models().prompt_writer
    writer = lazy.get() if lazy is not None else None
    if writer is None:
        return None, "off"
    result = writer.enhance(prompt, seed)
    log.info("prompt writer: %s in %.1f s", result.reason, result.seconds)  # never the words: users' text stays out
    if result.text is not None and runtime.blocklist().blocked_word(result.text):
        return None, "blocked"
    return result.text, result.reason


def _style_words(request: GenerateJob) -> str:
    """What the style added to the prompt for the model (``", акварель, мягкие цвета"``), to add to a description."""
    model_prompt = request.model_prompt or ""
    return model_prompt[len(request.prompt) :] if model_prompt.startswith(request.prompt) else ""
