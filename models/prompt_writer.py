"""✨ Prompt enhancement: an instruction-tuned LLM turns a short Russian idea («кот») into one rich Russian visual
description («рыжий кот дремлет на подоконнике, мягкий утренний свет…»), as Shedevrum and Kandinsky 5's own
inference code do (YandexART's and Kandinsky's models were trained on such long descriptions).

The LLM runs through transformers' ``AutoModelForCausalLM`` / ``AutoTokenizer`` and ``generate`` with its chat
template (any hub id or local dir, ``MODEL_PROMPT_WRITER``), or shares a model already loaded: Kandinsky 5's
Qwen2.5-VL text encoder (``PromptWriter.sharing``). Its answer is cleaned (:func:`clean_description`) and is
``None`` when nothing usable is left: the caller then paints the user's own words and says so.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)

MAX_NEW_TOKENS = 160  # a Russian description of ~400 characters is ~100-150 Qwen tokens
MAX_CHARS = 400  # the description and the caption's /imagine line repeating it fit Telegram's 1024-char caption
MIN_WORDS = 3
MIN_CYRILLIC_SHARE = 0.6  # of the letters: a description mostly in another language is not one for a Russian user
TEMPERATURE, TOP_P, REPETITION_PENALTY = 0.7, 0.9, 1.1
SYSTEM_PROMPT = (
    "Ты помогаешь рисовать картинки. Пользователь пишет короткую идею картинки. Перепиши её в одно подробное "
    "визуальное описание на русском языке: главный объект и его детали, место и фон, освещение и время суток, "
    "цвета, стиль изображения. Сохрани смысл идеи и всё, что пользователь уже указал. Пиши одним абзацем, не "
    "длиннее 60 слов, без списков, без заголовков, без кавычек, без пояснений и без вступления — только само "
    "описание."
)
# A chat template for tokenizers that ship none (ChatML: the Qwen family's format).
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Enhancement:
    """What the writer made of a prompt: the description (``None`` when it is unusable) and why not
    (``failed``, ``timeout``, ``unusable``; the worker adds ``blocked`` and ``off``)."""

    text: str | None
    reason: str = "ok"
    seconds: float = 0.0


class PromptWriter:
    """A loaded instruction-tuned LLM that writes one Russian picture description for a short prompt.

    Deterministic for a given seed: sampling runs on a torch RNG seeded from it (the job's seed, so 🔄 with its new
    seed writes another description and the ``/imagine`` line with ``--seed`` the same one). Bounded: at most
    ``max_new_tokens`` tokens, ``timeout`` seconds (transformers' ``max_time``) and :data:`MAX_CHARS` characters.
    """

    def __init__(
        self, model: Any, tokenizer: Any, name: str, *, max_new_tokens: int = MAX_NEW_TOKENS, timeout: float = 90.0
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.max_new_tokens = max_new_tokens
        self.timeout = timeout
        self._lock = threading.Lock()  # one generate at a time (a worker runs one job at a time anyway)

    @classmethod
    def from_pretrained(
        cls, model: str, *, device: str = "cpu", dtype: torch.dtype | None = None, timeout: float = 90.0
    ) -> PromptWriter:
        """Load a causal LM and its tokenizer (hub id or local dir) onto ``device`` in ``dtype`` (float32: None)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = str(model)
        tokenizer = AutoTokenizer.from_pretrained(model)
        network = AutoModelForCausalLM.from_pretrained(model, dtype=dtype or torch.float32).to(device).eval()  # type: ignore[arg-type]  # transformers' wrapped .to() is typed as taking the model
        log.info("loaded prompt writer %s on %s/%s", model, device, dtype or torch.float32)
        return cls(network, tokenizer, model, timeout=timeout)

    @classmethod
    def sharing(cls, pipe: Any, name: str, *, timeout: float = 90.0) -> PromptWriter | None:
        """The writer made of a diffusers pipeline's own LLM text encoder (Kandinsky 5: Qwen2.5-VL, which has its
        language-model head, as Kandinsky 5's inference code uses it to expand prompts): no second model in
        memory. ``None`` for a pipeline whose text encoder cannot generate (CLIP, T5)."""
        encoder, tokenizer = getattr(pipe, "text_encoder", None), getattr(pipe, "tokenizer", None)
        if encoder is None or tokenizer is None or not hasattr(encoder, "generate"):
            return None
        if getattr(encoder, "get_output_embeddings", lambda: None)() is None:
            return None
        return cls(encoder, tokenizer, f"{name} (text encoder)", timeout=timeout)

    @property
    def device(self) -> torch.device:
        """Where the inputs go (with CPU offload, accelerate's hooks move them on)."""
        return next(self.model.parameters()).device

    def enhance(self, prompt: str, seed: int) -> Enhancement:
        """One description of ``prompt`` (cleaned), or why there is none; never raises for a model error."""
        started = time.perf_counter()
        try:
            raw, timed_out = self.generate(prompt, seed)
        except Exception:  # a model error must not cost the user their picture: paint their own words
            log.exception("the prompt writer %s failed", self.name)
            return Enhancement(None, "failed", time.perf_counter() - started)
        seconds = time.perf_counter() - started
        if timed_out:
            return Enhancement(None, "timeout", seconds)
        text = clean_description(raw)
        if text is None or _same_words(text, prompt):
            return Enhancement(None, "unusable", seconds)
        return Enhancement(text, "ok", seconds)

    def generate(self, prompt: str, seed: int) -> tuple[str, bool]:
        """The model's raw answer for ``prompt``, and whether it ran out of time (``timeout``)."""
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        template = None if getattr(self.tokenizer, "chat_template", None) else CHATML
        inputs = self.tokenizer.apply_chat_template(
            messages, chat_template=template, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        stop = [i for i in (self.tokenizer.convert_tokens_to_ids("<|im_end|>"), self.tokenizer.eos_token_id) if i]
        started = time.perf_counter()
        with self._lock, _seeded(seed, self.device), torch.inference_mode():
            output = self.model.generate(
                **inputs,
                do_sample=True,
                temperature=TEMPERATURE,
                top_p=TOP_P,
                repetition_penalty=REPETITION_PENALTY,
                max_new_tokens=self.max_new_tokens,
                max_time=self.timeout,
                eos_token_id=stop or None,
                pad_token_id=self.tokenizer.pad_token_id or (stop[0] if stop else None),
            )
        timed_out = time.perf_counter() - started >= self.timeout
        new = output[0, inputs["input_ids"].shape[1] :]
        return self.tokenizer.decode(new, skip_special_tokens=True), timed_out

    def __repr__(self) -> str:
        return f"PromptWriter(name={self.name!r})"


class LazyPromptWriter:
    """The worker's prompt writer, made by ``load`` the first time a job asks for one (``MODEL_PROMPT_WRITER_LAZY``)
    or at start (:meth:`get` called by the loader); a load that failed is not retried on every job."""

    def __init__(self, name: str, load: Callable[[], PromptWriter | None]) -> None:
        self.name = name
        self._load = load
        self._writer: PromptWriter | None = None
        self._tried = False
        self._lock = threading.Lock()

    def get(self) -> PromptWriter | None:
        """The writer, loaded once; ``None`` when it could not be loaded (logged)."""
        with self._lock:
            if not self._tried:
                self._tried = True
                try:
                    self._writer = self._load()
                except Exception:
                    log.exception("could not load the prompt writer %s; prompts stay as typed", self.name)
            return self._writer

    @property
    def loaded(self) -> bool:
        """Whether the writer is in memory (a lazy one may not be yet)."""
        return self._writer is not None


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's RNG (CPU and the model's CUDA device) for the block; the caller's RNG state is left as it was."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


# --- cleaning ----------------------------------------------------------------------------------------------------
_ROLE = re.compile(r"<\|im_start\|>\w*")  # a chat turn's header: the role's name after it is no description
_HEADING = re.compile(r"^\s*#.*$", re.MULTILINE)  # a Markdown heading («# Описание») titles, it does not describe
_SPECIAL = re.compile(r"<\|[^|>]*\|>|</?[A-Za-z][^>]{0,40}>")  # chat tokens, HTML/XML tags
_MARKUP = re.compile(r"\*\*|__|`+|~~|^#+\s*|^>\s*", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*•–—]|\d{1,2}[.)])\s+")
# "Описание:", "Улучшенный промпт:", "Prompt:" … at the start of the answer: a label, not the description
_LABEL = re.compile(
    r"^\s*(?:(?:улучшенн\w*|подробн\w*|расширенн\w*|нов\w*|итогов\w*|финальн\w*|готов\w*|визуальн\w*)\s+)?"
    r"(?:описание|промпт|запрос|prompt|description|ответ|результат|answer|result|enhanced prompt|картинка)"
    r"(?:\s+\w+){0,2}\s*[:：—-]\s*",
    re.IGNORECASE,
)
# sentences of chatter around the description: an introduction, an offer, an explanation
_CHATTER = re.compile(
    r"^(?:конечно|вот\b|хорошо|разумеется|надеюсь|если\b|я\s|этот\s+промпт|это\s+описание|данное\s+описание|"
    r"описание\s+(?:подчеркивает|передает|создает)|примечание|пояснение|обратите|sure|here\b|note\b|i\s)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
_QUOTES = "\"'«»“”„`"
_LATIN, _CYRILLIC = re.compile(r"[A-Za-z]"), re.compile(r"[А-Яа-яЁё]")
_DASH_OPTION = re.compile(r"(^|\s)(?:--+|—|–)(?=\S)")  # would read as an --option in the /imagine line


def clean_description(raw: str, max_chars: int = MAX_CHARS) -> str | None:
    """The description in a writer's answer, as one plain Russian paragraph of at most ``max_chars``, or ``None``.

    Strips chat tokens, markup, list markers, quotes, labels («Описание:»), chatter («Конечно! Вот…»,
    «Надеюсь, …»), sentences in another language and parenthesised translations; keeps the first paragraph; cuts at
    a sentence (else a word) end. ``None`` when fewer than three words, or not mostly Cyrillic, are left.
    """
    text = _HEADING.sub("", _SPECIAL.sub(" ", _ROLE.sub("", raw or ""))).replace("\r", "")
    paragraph = _first_paragraph(_MARKUP.sub("", text))
    paragraph = re.sub(r"\([^()]*\)", lambda m: "" if _mostly_latin(m.group(0)) else m.group(0), paragraph)
    sentences = [_LABEL.sub("", s).strip().strip(_QUOTES).strip() for s in _SENTENCE.split(paragraph)]
    kept = [s for s in sentences if s and not _CHATTER.match(s) and not _mostly_latin(s)]
    text = _DASH_OPTION.sub(r"\1- ", " ".join(kept))
    text = re.sub(r"\s+", " ", text).strip().strip(_QUOTES).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = _capped(text, max_chars)
    return text if _usable(text) else None


def _is_preamble(line: str) -> bool:
    """A line that only introduces the answer («Конечно! Вот описание:», «Описание:»)."""
    return line.endswith(":") and (len(line) < 60 or bool(_CHATTER.match(line)) or bool(_LABEL.match(line)))


def _first_paragraph(text: str) -> str:
    """The description: the first paragraph that is not an introduction («Вот описание:»); a list the model made
    anyway becomes one sentence of its items. Later paragraphs are explanations and are dropped."""
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.split("\n")]
        lines = [line for line in lines if line and not _is_preamble(line)]
        if not lines:
            continue
        if len(lines) == 1:
            return _LIST_ITEM.sub("", lines[0])
        if all(_LIST_ITEM.match(line) or len(line) < 80 for line in lines):
            return ", ".join(_LIST_ITEM.sub("", line).rstrip(".;,") for line in lines) + "."
        return " ".join(_LIST_ITEM.sub("", line) for line in lines)
    return ""


def _mostly_latin(text: str) -> bool:
    latin, cyrillic = len(_LATIN.findall(text)), len(_CYRILLIC.findall(text))
    return latin > cyrillic


def _capped(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: whole sentences where at least half fits, else whole words."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if end >= limit // 2:
        return head[: end + 1]
    return head[: head.rfind(" ")].rstrip(",;:- ") if " " in head else head


def _usable(text: str) -> bool:
    letters = len(_LATIN.findall(text)) + len(_CYRILLIC.findall(text))
    words = re.findall(r"\w+", text)
    return len(words) >= MIN_WORDS and letters > 0 and len(_CYRILLIC.findall(text)) / letters >= MIN_CYRILLIC_SHARE


def _same_words(text: str, prompt: str) -> bool:
    """The description only repeats the prompt: nothing was added."""
    return re.findall(r"\w+", text.casefold()) == re.findall(r"\w+", prompt.casefold())


def prepare_writer(
    source: str, *, cache_dir: Any, generator: Any, device: str, dtype: torch.dtype, timeout: float
) -> LazyPromptWriter | None:
    """The worker's writer for ``source`` (a preset's ``prompt_writer`` or ``MODEL_PROMPT_WRITER``), not loaded yet:
    ``off`` none; the tiny preset's built under ``cache_dir``; the generator's own text encoder shared (Kandinsky 5),
    else the default small LLM when that one cannot generate; any other hub id or local dir loaded on ``device``."""
    from models.presets import DEFAULT_PROMPT_WRITER, GENERATOR_TEXT_ENCODER, PROMPT_WRITER_OFF, TINY_PROMPT_WRITER

    if source.strip().lower() == PROMPT_WRITER_OFF:
        return None
    if source == TINY_PROMPT_WRITER:
        from models.tiny_families import ensure_tiny_prompt_writer

        source = str(ensure_tiny_prompt_writer(cache_dir))

    def load(model: str) -> PromptWriter:
        return PromptWriter.from_pretrained(model, device=device, dtype=dtype, timeout=timeout)

    if source == GENERATOR_TEXT_ENCODER:
        shared = PromptWriter.sharing(generator.pipe, generator.name, timeout=timeout)
        if shared is not None:
            return LazyPromptWriter(shared.name, lambda: shared)
        log.warning("%s cannot write prompts; the prompt writer is %s", generator.name, DEFAULT_PROMPT_WRITER)
        source = DEFAULT_PROMPT_WRITER
    return LazyPromptWriter(source, lambda: load(source))
