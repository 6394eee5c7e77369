"""Zero-shot photo classification with Russian labels (CLIP, SigLIP or any image-text model)."""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from models.device import pick_device, pick_dtype

log = logging.getLogger(__name__)

# ruCLIP's predictor templates; "{}" is replaced by the label.
RU_TEMPLATES = (
    "{}",
    "фото, на котором изображено {}",
    "изображение с {}",
    "картинка с {}",
    "фото с {}",
    "на фото видно {}",
)
TEXT_CACHE_SIZE = 64


def features(output: Any, kind: str) -> torch.Tensor:
    """Return the embedding tensor from ``get_text_features`` / ``get_image_features`` output.

    Older transformers return a tensor; 5.x returns a ``BaseModelOutputWithPooling`` whose
    ``pooler_output`` holds the projected embedding. ``kind`` is ``"text"`` or ``"image"``.
    """
    if isinstance(output, torch.Tensor):
        return output
    for key in (f"{kind}_embeds", "pooler_output"):
        value = getattr(output, key, None)
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError(f"cannot find {kind} embeddings in {type(output).__name__}")


def normalize(embeddings: torch.Tensor) -> torch.Tensor:
    """L2-normalise along the last dimension (in float32)."""
    return torch.nn.functional.normalize(embeddings.float(), dim=-1)


def label_scores(
    image_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    logit_scale: torch.Tensor,
    logit_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Score one image against N labels from normalised embeddings ``(D,)`` and ``(N, D)``.

    ``logits = exp(logit_scale) * cos (+ logit_bias)``; without a bias (CLIP) the scores are a
    softmax over the labels, with one (SigLIP) an independent sigmoid per label.
    """
    logits = logit_scale.float().exp() * (text_embeds @ image_embeds)
    if logit_bias is None:
        return logits.softmax(dim=-1)
    return torch.sigmoid(logits + logit_bias.float())


def _load_backend(model: str, dtype: torch.dtype) -> tuple[Any, Any]:
    """(model, processor) for ``model``: ruCLIP through `models.ruclip`, else transformers' Auto classes."""
    from models.ruclip import is_ruclip, load_ruclip

    if is_ruclip(model):
        return load_ruclip(model, dtype=dtype)
    from transformers import AutoModel, AutoProcessor

    return AutoModel.from_pretrained(model, dtype=dtype), AutoProcessor.from_pretrained(model)


class ZeroShotClassifier:
    """Classifies a photo against free-form labels with a prompt-template ensemble."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        name: str,
        device: str,
        templates: Sequence[str] = RU_TEMPLATES,
        embedding_dir: str | Path | None = None,
    ):
        """``embedding_dir``: where label sets passed to :meth:`preload_labels` keep their text embeddings on
        disk (`models.embedding_store`); None keeps everything in memory only."""
        if not templates:
            raise ValueError("at least one template is needed")
        self.model = model
        self.processor = processor
        self.name = name
        self.device = device
        self.templates = tuple(templates)
        self.sigmoid = getattr(model, "logit_bias", None) is not None
        self._siglip = "siglip" in getattr(model.config, "model_type", "")
        self._text_cache: OrderedDict[tuple[str, ...], torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self.embedding_dir = Path(embedding_dir) if embedding_dir is not None else None
        self._persistent: set[tuple[str, ...]] = set()  # label sets whose embeddings are kept on disk
        self._store: Any = None  # models.embedding_store.EmbeddingStore, made on first use (hashes the weights)

    @classmethod
    def from_pretrained(
        cls,
        model: str,
        *,
        device: str = "cpu",
        dtype: torch.dtype | None = None,
        templates: Sequence[str] = RU_TEMPLATES,
        embedding_dir: str | Path | None = None,
    ) -> ZeroShotClassifier:
        """Load an image-text model and its processor from a hub id or a local dir.

        ruCLIP checkpoints (``bpe.model`` + ruCLIP's own ``config.json``, e.g.
        ``ai-forever/ruclip-vit-base-patch32-384``) are converted to a transformers ``CLIPModel`` with
        ruCLIP's tokenizer by `models.ruclip`; anything else loads with ``AutoModel``/``AutoProcessor``.
        """
        model = str(model)
        device = pick_device(device)
        dtype = pick_dtype(device) if dtype is None else dtype
        net, processor = _load_backend(model, dtype)
        net = net.to(device).eval()
        classifier = cls(net, processor, model, device, templates, embedding_dir)
        log.info(
            "loaded classifier %s (%s, %s scores) on %s/%s",
            model,
            type(net).__name__,
            "sigmoid" if classifier.sigmoid else "softmax",
            device,
            dtype,
        )
        return classifier

    def classify(self, image: Image.Image, labels: Sequence[str]) -> list[tuple[str, float]]:
        """Score ``image`` against every label; return ``(label, score)`` for all labels, best first.

        Scores are softmax probabilities (summing to 1) for CLIP-style models and independent
        sigmoid probabilities for SigLIP-style ones. Repeated labels are scored once.
        """
        unique = tuple(dict.fromkeys(labels))
        if not unique:
            raise ValueError("at least one label is needed")
        with torch.inference_mode():
            text = self._label_embeddings(unique)
            picture = self._image_embedding(image)
            bias = getattr(self.model, "logit_bias", None)
            scores = label_scores(picture, text, self.model.logit_scale, bias)
        ranked = zip(unique, scores.tolist(), strict=True)
        return sorted(ranked, key=lambda pair: pair[1], reverse=True)

    def classify_batch(
        self, images: Sequence[Image.Image], labels_per_image: Sequence[Sequence[str]]
    ) -> list[list[tuple[str, float]]]:
        """:meth:`classify` for several images at once: one image-encoder pass for all of them, text embeddings
        once per distinct label set (and cached as usual). Returns one best-first list per image."""
        if len(images) != len(labels_per_image):
            raise ValueError("one label list per image is needed")
        label_sets = [tuple(dict.fromkeys(labels)) for labels in labels_per_image]
        if not all(label_sets):
            raise ValueError("at least one label is needed")
        if not images:
            return []
        with torch.inference_mode():
            texts = {labels: self._label_embeddings(labels) for labels in dict.fromkeys(label_sets)}
            pictures = self._image_embeddings(images)
            bias = getattr(self.model, "logit_bias", None)
            results = []
            for picture, labels in zip(pictures, label_sets, strict=True):
                scores = label_scores(picture, texts[labels], self.model.logit_scale, bias)
                ranked = zip(labels, scores.tolist(), strict=True)
                results.append(sorted(ranked, key=lambda pair: pair[1], reverse=True))
        return results

    def similarities(self, images: Sequence[Image.Image], text: str) -> list[float]:
        """Cosine similarity of each image to ``text`` (the prompt as typed, no template)."""
        with torch.inference_mode():
            output = self.model.get_text_features(**self._tokenize([text]))
            prompt = normalize(features(output, "text"))[0]
            pictures = self._image_embeddings(images)
            return (pictures @ prompt).tolist()

    def shares(self, similarities: Sequence[float]) -> list[float]:
        """Turn the similarities of several images to one text into shares summing to 1 (a softmax over the
        images at the model's logit scale): how much more each image fits the text than the others."""
        logits = self.model.logit_scale.detach().float().exp().cpu() * torch.tensor(similarities, dtype=torch.float32)
        return logits.softmax(dim=-1).tolist()

    def rank_images(self, images: Sequence[Image.Image], text: str) -> list[int]:
        """Indices of ``images``, most similar to ``text`` first: ruDALL-E's best-of-N re-ranking."""
        scores = self.similarities(images, text)
        return sorted(range(len(images)), key=lambda index: scores[index], reverse=True)

    def preload_labels(self, labels: Sequence[str]) -> str:
        """Make ``labels``' text embeddings ready (the worker's warm-up for the default set) and, with an
        ``embedding_dir``, keep them on disk: later loads of the same model read the file instead of running
        the text encoder. Returns where they came from: ``"memory"``, ``"disk"`` or ``"computed"``."""
        unique = tuple(dict.fromkeys(labels))
        if not unique:
            raise ValueError("at least one label is needed")
        started = time.perf_counter()
        with self._lock:
            if self.embedding_dir is not None:
                self._persistent.add(unique)
            cached = unique in self._text_cache
        if cached:
            return "memory"
        with torch.inference_mode():
            _embeddings, source = self._label_embeddings_from(unique)
        seconds = time.perf_counter() - started
        log.info("text embeddings of %d labels ready in %.1f s (%s)", len(unique), seconds, source)
        return source

    def embedding_store(self) -> Any:
        """This model's `models.embedding_store.EmbeddingStore` (None without ``embedding_dir``)."""
        if self.embedding_dir is None:
            return None
        if self._store is None:
            from models.embedding_store import EmbeddingStore, model_fingerprint

            fingerprint = model_fingerprint(self.model, self.name, self.processor)
            self._store = EmbeddingStore(self.embedding_dir, self.name, fingerprint)
        return self._store

    def _label_embeddings(self, labels: tuple[str, ...]) -> torch.Tensor:
        """(N, D) template-ensembled label embeddings, cached per label tuple (LRU)."""
        return self._label_embeddings_from(labels)[0]

    def _label_embeddings_from(self, labels: tuple[str, ...]) -> tuple[torch.Tensor, str]:
        """The embeddings and where they came from: the LRU cache, the disk (preloaded sets) or the encoder."""
        with self._lock:
            cached = self._text_cache.get(labels)
            if cached is not None:
                self._text_cache.move_to_end(labels)
                return cached, "memory"
            persistent = labels in self._persistent
        store = self.embedding_store() if persistent else None
        embeddings = store.load(labels, self.templates) if store is not None else None
        source = "disk"
        if embeddings is None:
            embeddings, source = self._encode_labels(labels), "computed"
            if store is not None:
                store.save(labels, self.templates, embeddings)
        else:
            embeddings = embeddings.to(self.device)
        with self._lock:
            self._text_cache[labels] = embeddings
            while len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        return embeddings, source

    def _encode_labels(self, labels: tuple[str, ...]) -> torch.Tensor:
        texts = [template.format(label) for label in labels for template in self.templates]
        output = self.model.get_text_features(**self._tokenize(texts))
        per_template = normalize(features(output, "text")).view(len(labels), len(self.templates), -1)
        return normalize(per_template.mean(dim=1))

    def _tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Tokenize like the model was trained: SigLIP pads to max length and uses no attention mask."""
        text_config = getattr(self.model.config, "text_config", None)
        max_length = getattr(text_config, "max_position_embeddings", None) or self.processor.tokenizer.model_max_length
        padding = "max_length" if self._siglip else True
        encoded = self.processor.tokenizer(
            texts, padding=padding, truncation=True, max_length=max_length, return_tensors="pt"
        )
        names = ("input_ids",) if self._siglip else ("input_ids", "attention_mask")
        return {name: encoded[name].to(self.device) for name in names if name in encoded}

    def _image_embedding(self, image: Image.Image) -> torch.Tensor:
        return self._image_embeddings([image])[0]

    def _image_embeddings(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """(N, D) normalised embeddings of ``images``, in one forward pass."""
        rgb = [image.convert("RGB") for image in images]
        encoded = self.processor.image_processor(images=rgb, return_tensors="pt")
        # SigLIP2 (NaFlex) also needs the patch mask and spatial shapes its processor returns
        accepted = inspect.signature(self.model.get_image_features).parameters
        inputs = {name: value.to(self.device) for name, value in encoded.items() if name in accepted}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        output = self.model.get_image_features(**inputs)
        return normalize(features(output, "image"))

    def __repr__(self) -> str:
        return f"ZeroShotClassifier(name={self.name!r}, device={self.device!r}, model={type(self.model).__name__})"
