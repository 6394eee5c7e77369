"""``/imagine <prompt> --option value …``: parsing and checking the options, Midjourney style.

Options may use Russian names (``--без``, ``--стиль``…), and a long dash (``—ar``), which phones type for ``--``.
Every bad value is refused with a text naming the option and its allowed range.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from core.protocol import ChatRef, GenerateJob
from handlers.errors import UserError
from handlers.prompts import MAX_PROMPT_CHARS, clean_text, parse_prompt
from handlers.styles import Style, english_style_names, find_style, style_names

MAX_IMAGES = 4
MAX_CANDIDATES = 8
MIN_STEPS, MAX_STEPS = 1, 100
MAX_SEED = 2**31 - 1
MAX_RATIO = 4.0
MAX_NEGATIVE_CHARS = 300
MIN_STRENGTH, MAX_STRENGTH, DEFAULT_STRENGTH = 0.05, 1.0, 0.6  # painting from a photo: how far from it

# canonical name → the spellings users type
OPTION_NAMES: dict[str, tuple[str, ...]] = {
    "ar": ("ar", "aspect", "пропорции", "формат"),
    "seed": ("seed", "сид", "зерно"),
    "no": ("no", "neg", "negative", "без", "не"),
    "steps": ("steps", "шаги", "шагов"),
    "style": ("style", "стиль"),
    "n": ("n", "count", "кол", "число", "сколько"),
    "best": ("best", "лучшие", "лучший", "из"),
    "model": ("model", "модель"),
    "strength": ("strength", "сила"),
    "up": ("up", "upscale", "увеличить", "увеличение"),  # upscale (#20)
    "enhance": ("enhance", "улучшить", "улучши", "улучшение"),  # ✨: a flag, no value
}
FLAGS = frozenset({"enhance"})  # options that take no value
_CANONICAL = {alias: name for name, aliases in OPTION_NAMES.items() for alias in aliases}
EXAMPLES = {  # shown when an option is given without a value
    "ar": "--ar 16:9",
    "seed": "--seed 42",
    "no": "--no люди",
    "steps": "--steps 30",
    "style": "--style аниме",
    "n": "--n 4",
    "best": "--best 8",
    "model": "--model fast",
    "strength": "--strength 0.4",
    "up": "--up 2",
    "enhance": "/imagine кот --улучшить",
}
_OPTION = re.compile(r"(?:^|\s)(?:--|—|–)(\S+)")
_RATIO = re.compile(r"^(\d{1,2})\s*[:xх×/]\s*(\d{1,2})$")


@dataclass(frozen=True)
class ImagineRequest:
    """A parsed ``/imagine``: the prompt as typed and the chosen options (``None`` = the model's default)."""

    prompt: str
    aspect: tuple[int, int] | None = None
    seed: int | None = None
    negative: str | None = None
    steps: int | None = None
    style: Style | None = None
    count: int | None = None  # None: the chat's /settings, the operator's BOT_DEFAULT_IMAGES, else the generator's
    best_of: int | None = None
    generator: str | None = None
    strength: float | None = None  # only with a photo
    upscale: int | None = None  # --up 2|4: the final pictures enlarged (#20)
    enhance: bool = False  # ✨: the worker writes a richer description first (--enhance, /settings, the ✨ button)


def parse_imagine(text: str | None, fields: Mapping[str, object] | None = None) -> ImagineRequest:
    """Split ``text`` into the prompt and its ``--options``; raise :class:`UserError` on anything wrong.

    ``fields`` are options a platform asked for in fields of their own (Discord's ``negative:``…), by canonical
    name: their values are taken as typed, never split into further ``--options``. Each option may be given once.
    """
    text = clean_text(text or "")
    matches = list(_OPTION.finditer(text))
    prompt = parse_prompt(text[: matches[0].start()] if matches else text)
    request, given = ImagineRequest(prompt=prompt), set[str]()
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        request = _apply(request, given, match.group(1), text[match.end() : end].strip())
    for name, value in (fields or {}).items():
        if name in FLAGS:  # a platform's own switch (Discord's enhance: True)
            request = _apply(request, given, name, "") if value else request
        elif value is not None:
            request = _apply(request, given, name, clean_text(str(value)))
    return _check_combination(request)


def apply_options(request: ImagineRequest, text: str) -> tuple[str, ImagineRequest]:
    """The words before ``text``'s first ``--option``, and ``request`` with those options set (a remix reply's
    options change only what they name); :class:`UserError` on a bad option, as for ``/imagine``."""
    text = clean_text(text)
    matches = list(_OPTION.finditer(text))
    given = set[str]()
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        request = _apply(request, given, match.group(1), text[match.end() : end].strip())
    return (text[: matches[0].start()] if matches else text).strip(), _check_combination(request)


def _apply(request: ImagineRequest, given: set[str], typed: str, value: str) -> ImagineRequest:
    """``request`` with the option ``typed`` set to ``value``; ``given`` collects the options set so far."""
    name = _CANONICAL.get(typed.casefold())
    if name is None:
        raise UserError("option_unknown", option=f"--{typed}", options=", ".join(f"--{n}" for n in OPTION_NAMES))
    if name in given:
        raise UserError("option_twice", option=f"--{name}")
    if name in FLAGS:
        if value:
            raise UserError("option_flag_value", option=f"--{typed}", example=EXAMPLES[name])
        given.add(name)
        flag: dict[str, Any] = {name: True}
        return replace(request, **flag)
    if not value:
        raise UserError("option_needs_value", option=f"--{name}", example=EXAMPLES[name])
    given.add(name)
    return replace(request, **_PARSERS[name](value))


def _ratio(value: str) -> dict[str, Any]:
    match = _RATIO.match(value)
    if match:
        width, height = int(match.group(1)), int(match.group(2))
        if width > 0 and height > 0 and 1 / MAX_RATIO <= width / height <= MAX_RATIO:
            return {"aspect": (width, height)}
    raise UserError("option_ar", value=value)


def _integer(value: str, option: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d{1,10}", value) or not low <= int(value) <= high:
        raise UserError("option_range", option=f"--{option}", value=value, low=low, high=high)
    return int(value)


def _style(value: str) -> dict[str, Any]:
    style = find_style(value)
    if style is None:
        raise UserError("option_style", value=value, styles=style_names(), styles_en=english_style_names())
    return {"style": style}


def _strength(value: str) -> dict[str, Any]:
    """``--strength 0.4`` (or ``0,4``, as a Russian keyboard types it): how far from the photo, 0.05…1."""
    try:
        strength = float(value.replace(",", "."))
    except ValueError:
        strength = -1.0
    if not MIN_STRENGTH <= strength <= MAX_STRENGTH:
        raise UserError("option_strength", value=value)
    return {"strength": round(strength, 2)}


def _negative(value: str) -> dict[str, Any]:
    if len(value) > MAX_NEGATIVE_CHARS:
        raise UserError("option_too_long", option="--no", limit=MAX_NEGATIVE_CHARS)
    return {"negative": value}


_PARSERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "ar": _ratio,
    "seed": lambda value: {"seed": _integer(value, "seed", 0, MAX_SEED)},
    "no": _negative,
    "steps": lambda value: {"steps": _integer(value, "steps", MIN_STEPS, MAX_STEPS)},
    "style": _style,
    "n": lambda value: {"count": _integer(value, "n", 1, MAX_IMAGES)},
    "best": lambda value: {"best_of": _integer(value, "best", 2, MAX_CANDIDATES)},
    "model": lambda value: {"generator": value.casefold()},  # checked against the deployment's generators later
    "strength": _strength,
    "up": lambda value: {"upscale": _upscale_factor(value)},
}


UPSCALE_FACTORS = (2, 4)


def _upscale_factor(value: str) -> int:
    """``--up 2`` / ``--up 4`` (also ``x4``, ``×4``): how many times larger the final pictures come."""
    factor = value.casefold().lstrip("x×х")
    if factor not in {str(f) for f in UPSCALE_FACTORS}:
        raise UserError("option_up", value=value)
    return int(factor)


def _check_combination(request: ImagineRequest) -> ImagineRequest:
    if request.best_of is not None and request.count is not None and request.best_of < request.count:
        raise UserError("option_best_below_n", best=request.best_of, count=request.count)
    return request


def generation_job(chat: ChatRef, request: ImagineRequest, seed: int) -> GenerateJob:
    """The job for ``request``: the user's words for captions, plus the style's words for the model."""
    prompt, negatives = request.prompt, [request.negative] if request.negative else []
    if request.style and request.style.suffix:  # NO_STYLE adds nothing
        prompt = f"{prompt}, {request.style.suffix}"
        negatives.append(request.style.negative)
    return GenerateJob(
        chat=chat,
        prompt=request.prompt,
        seed=seed,
        model_prompt=prompt[: MAX_PROMPT_CHARS * 2],
        negative=request.negative,
        model_negative=", ".join(negatives) or None,
        style=request.style.name if request.style else None,
        aspect=request.aspect,
        steps=request.steps,
        num_images=request.count,
        best_of=request.best_of,
        generator=request.generator,
        upscale=request.upscale,
        enhance=request.enhance,
    )


def command_line(job: GenerateJob) -> str:
    """The ``/imagine`` line that reproduces ``job``'s picture."""
    parts = [f"/imagine {job.prompt}"]
    if job.aspect:
        parts.append(f"--ar {job.aspect[0]}:{job.aspect[1]}")
    if job.style:
        parts.append(f"--style {job.style}")
    if job.negative:
        parts.append(f"--no {job.negative}")
    if job.steps:
        parts.append(f"--steps {job.steps}")
    if job.num_images is not None and job.num_images > 1:
        parts.append(f"--n {job.num_images}")
    if job.best_of:
        parts.append(f"--best {job.best_of}")
    if job.generator:
        parts.append(f"--model {job.generator}")
    if job.photo_key:
        parts.append(f"--strength {job.strength:g}")
    if job.upscale and not job.init_image_key:  # --up; a ⤴ press enlarges a picture the line does not paint
        parts.append(f"--up {job.upscale}")
    parts.append(f"--seed {job.seed}")
    return " ".join(parts)
