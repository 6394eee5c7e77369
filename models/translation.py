"""Russian → English prompt translation with a MarianMT model, for generators that read only English."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import torch

from models.device import pick_device

log = logging.getLogger(__name__)

RU_EN = "Helsinki-NLP/opus-mt-ru-en"
NUM_BEAMS = 4  # beam search, never sampling: the same prompt always gives the same translation
MAX_INPUT_TOKENS = 512  # the opus-mt models' position limit
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def needs_translation(text: str) -> bool:
    """True when ``text`` has Cyrillic in it; Latin-only (or empty) text is passed through as it is."""
    return bool(_CYRILLIC.search(text))


class Translator:
    """A loaded MarianMT model (e.g. ``Helsinki-NLP/opus-mt-ru-en``) that translates prompts deterministically."""

    def __init__(self, model: Any, tokenizer: Any, name: str, device: str):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = device

    @classmethod
    def from_pretrained(cls, model: str, *, device: str = "cpu", dtype: torch.dtype | None = None) -> Translator:
        """Load a MarianMT model and its SentencePiece tokenizer from a hub id or a local directory; ``dtype``
        None: float32 whatever the device (see `models.device.small_dtype`)."""
        from transformers import MarianMTModel, MarianTokenizer

        model = str(model)
        device = pick_device(device)
        dtype = torch.float32 if dtype is None else dtype
        tokenizer = MarianTokenizer.from_pretrained(model)
        network = MarianMTModel.from_pretrained(model, dtype=dtype).to(device).eval()  # type: ignore[arg-type]  # transformers' wrapped .to() is typed as taking the model
        log.info("loaded translator %s on %s/%s", model, device, dtype)
        return cls(network, tokenizer, model, device)

    def translate(self, texts: Sequence[str]) -> list[str]:
        """Translate each text into English in one batch; texts without Cyrillic come back unchanged."""
        result = list(texts)
        todo = [index for index, text in enumerate(texts) if needs_translation(text)]
        if todo:
            for index, translation in zip(todo, self._translate([texts[i] for i in todo]), strict=True):
                result[index] = translation
        return result

    def _translate(self, texts: list[str]) -> list[str]:
        batch = self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=MAX_INPUT_TOKENS
        ).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(
                **batch,
                num_beams=NUM_BEAMS,
                do_sample=False,
                max_new_tokens=min(self.model.config.max_position_embeddings - 1, 2 * batch["input_ids"].shape[1] + 8),
            )
        return [text.strip() for text in self.tokenizer.batch_decode(output, skip_special_tokens=True)]

    def __repr__(self) -> str:
        return f"Translator(name={self.name!r}, device={self.device!r})"
