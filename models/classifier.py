"""Zero-shot photo classification with Russian labels (CLIP, SigLIP or any image-text model)."""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from models.device import pick_device

if TYPE_CHECKING:
    from models.ranker import LoadedRanker

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
PLAIN_TEMPLATE = ("{}",)  # /describe's phrases and prompts: scored as typed
TEXT_CACHE_LABELS = 4096  # labels' text embeddings kept in memory beyond the preloaded sets (LRU), ≈ 8 MB at D=512
TEXT_BATCH_PROMPTS = 1024  # prompts per text-encoder pass at most: bounds its activations when many labels are new
MIN_PASS_PROMPTS = 64  # prompts a text-encoder pass takes before one of another length may start the next


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
    bonus: torch.Tensor | None = None,
) -> torch.Tensor:
    """Score one image against N labels from normalised embeddings ``(D,)`` and ``(N, D)``.

    ``logits = exp(logit_scale) * (cos + bonus) (+ logit_bias)``; without a bias (CLIP) the scores are a
    softmax over the labels, with one (SigLIP) an independent sigmoid per label. ``bonus`` (N,), in cosine
    units: what taught classes add (:func:`taught_bonus`), 0 for a plain label.
    """
    similarity = text_embeds @ image_embeds
    if bonus is not None:
        similarity = similarity + bonus.to(similarity.dtype)
    logits = logit_scale.float().exp() * similarity
    if logit_bias is None:
        return logits.softmax(dim=-1)
    return torch.sigmoid(logits + logit_bias.float())


# Tip-Adapter-style scoring of a taught class (see :func:`taught_bonus`), chosen with bench/fewshot.py
FEW_SHOT_AFFINITY = 0.5  # α: the most a taught class's photos add to its name's cosine (cosine units)
FEW_SHOT_SHARPNESS = 30.0  # β: how fast that bonus fades as a photo leaves the class's photos
TAUGHT_VERSION = 2  # what a taught class's vector is: 2, its photos' mean; 1 (before), a photo+text mix


def few_shot_photo_mean(image_embeds: torch.Tensor) -> torch.Tensor:
    """A taught class's vector from its ``n`` normalised photo embeddings ``(n, D)``: their normalised mean (the
    class's centre in the *image* cone). Kept apart from its name's text embedding, which the classifier computes
    from the name like any label's, so each can be compared with a photo in its own way (:func:`taught_bonus`)."""
    return normalize(image_embeds.float().mean(dim=0))


def taught_bonus(
    picture: torch.Tensor,
    photo_means: torch.Tensor,
    alpha: float | None = None,
    beta: float | None = None,
) -> torch.Tensor:
    """What each taught class adds to its name's cosine with ``picture`` (D,): ``α · exp(−β · (1 − cos))`` to its
    photos' mean (``photo_means``, (K, D)), in cosine units (the caller multiplies by the logit scale).

    Why not score the photos' mean as one more label (the recipe before): CLIP-style models put image and text
    embeddings in different cones (the "modality gap"); any photo is nearer any other photo (cosine ≈ 0.5 for a
    trained ViT-B/32, ≈ 0.8 for the random test models) than its right label's text (≈ 0.3), so such a class won
    every photo of the chat (docs/benchmarks.md: a 100 % steal rate). Tip-Adapter's remedy, kept here: every class
    keeps its name's text logit, and a taught class adds a *bounded* image-affinity term, near α only for photos
    close to its own, fading exponentially with the distance.

    The values are bench/fewshot.py's (``--sweep`` on the tiny model, docs/benchmarks.md): the pair with taught
    accuracy well above zero-shot at every shot count and a steal rate at the zero-shot confusion. α = 0.5 is ten
    times the spread of a random model's label cosines (a photo like the class's wins over the labels' text);
    β = 30 gives a photo at cosine 0.97 to the class's photos ≈ 40 % of α, one at 0.8 (another class of the
    random models) e⁻⁶ ≈ 0.25 %: next to nothing. Caveat: chosen on the tiny random model, whose photo cosines
    bunch between 0.8 and 0.97; a trained ruCLIP spreads them wider (same object ≈ 0.85, unrelated ≈ 0.5), where
    β = 30 is on the strict side (a photo at 0.85 gets ≈ 1 % of α): re-run the sweep with its weights to tune. On
    a random real-size ruCLIP (flat random text, photos of other classes near a class's) no β tried stops the
    stealing: see docs/benchmarks.md."""
    alpha = FEW_SHOT_AFFINITY if alpha is None else alpha
    beta = FEW_SHOT_SHARPNESS if beta is None else beta
    return alpha * torch.exp(-beta * (1 - photo_means @ picture))


Taught = tuple[str, Sequence[float] | None]  # a taught class as scored: its name, its photos' mean (None: name only)


def _untaught(labels: Sequence[str], taught: Sequence[Taught]) -> tuple[str, ...]:
    """``labels`` (deduplicated) without those a taught class of the same name (casefolded) replaces, then the
    taught classes' names: every name whose text embedding one image is scored against."""
    names = {name.casefold() for name, _vector in taught}
    kept = [label for label in dict.fromkeys(labels) if label.casefold() not in names]
    return tuple(dict.fromkeys([*kept, *(name for name, _vector in taught)]))


def _load_backend(model: str, dtype: torch.dtype, conversion_dir: Path | None) -> tuple[Any, Any]:
    """(model, processor) for ``model``: ruCLIP through `models.ruclip` (its conversion kept in
    ``conversion_dir``, default `models.ruclip.default_cache_dir`), else transformers' Auto classes."""
    from models.ruclip import is_ruclip, load_ruclip

    if is_ruclip(model):
        return load_ruclip(model, dtype=dtype, cache_dir=conversion_dir)
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
        # Text embeddings are kept per label (a label's embedding does not depend on the other labels scored with
        # it), so a set that shares labels with one seen before only encodes its new ones.
        self._pinned: dict[str, torch.Tensor] = {}  # labels of preloaded sets, kept for the process's life
        self._preloaded: dict[tuple[str, ...], torch.Tensor] = {}  # those sets stacked: the default set's fast path
        self._recent: OrderedDict[str, torch.Tensor] = OrderedDict()  # any other label, least recently used first
        self._lock = threading.Lock()
        self.embedding_dir = Path(embedding_dir) if embedding_dir is not None else None
        self._store: Any = None  # models.embedding_store.EmbeddingStore, made on first use (hashes the weights)
        self._phrase_sets: dict[tuple[str, ...], torch.Tensor] = {}  # /describe's phrase bank, once computed

    @classmethod
    def from_pretrained(
        cls,
        model: str,
        *,
        device: str = "cpu",
        dtype: torch.dtype | None = None,
        templates: Sequence[str] = RU_TEMPLATES,
        embedding_dir: str | Path | None = None,
        conversion_dir: Path | None = None,
    ) -> ZeroShotClassifier:
        """Load an image-text model and its processor from a hub id or a local dir.

        ruCLIP checkpoints (``bpe.model`` + ruCLIP's own ``config.json``, e.g.
        ``ai-forever/ruclip-vit-base-patch32-384``) are converted to a transformers ``CLIPModel`` with
        ruCLIP's tokenizer by `models.ruclip` (the conversion kept in ``conversion_dir``); anything else loads
        with ``AutoModel``/``AutoProcessor``. ``dtype`` None: float32, as upstream ruCLIP runs (see
        `models.device.small_dtype`), whatever the device.
        """
        model = str(model)
        device = pick_device(device)
        dtype = torch.float32 if dtype is None else dtype
        net, processor = _load_backend(model, dtype, conversion_dir)
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

    @functools.cached_property
    def dimensions(self) -> int:
        """The size of this model's embeddings, read off one encoded text (every backend's config names it
        differently): what a stored vector from another model (a taught class) is checked against."""
        return int(self.text_embeddings(["."]).shape[-1])

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
        self,
        images: Sequence[Image.Image],
        labels_per_image: Sequence[Sequence[str]],
        taught_per_image: Sequence[Sequence[Taught]] | None = None,
    ) -> list[list[tuple[str, float]]]:
        """:meth:`classify` for several images at once: one image-encoder pass for all of them, and the labels not
        seen before, of every image, through the text encoder together. Returns one best-first list per image.

        ``taught_per_image``: each image's taught classes (``/teach``: name, its photos' mean from
        :meth:`prototype`, or None for a class stored in the old format, scored by its name only), scored with its
        labels in the same softmax: a taught class by its name's text like a label, plus :func:`taught_bonus` for
        a photo like its photos. A taught class replaces a label of the same name (casefolded): the chat taught what
        it means."""
        if len(images) != len(labels_per_image):
            raise ValueError("one label list per image is needed")
        taught_sets = [list(taught) for taught in taught_per_image] if taught_per_image else [[] for _ in images]
        if len(taught_sets) != len(images):
            raise ValueError("one taught-class list per image is needed")
        name_sets = [_untaught(labels, taught) for labels, taught in zip(labels_per_image, taught_sets, strict=True)]
        if not all(name_sets):
            raise ValueError("at least one label is needed")
        if not images:
            return []
        with torch.inference_mode():
            texts = self._label_set_embeddings(name_sets)
            pictures = self._image_embeddings(images)
            bias = getattr(self.model, "logit_bias", None)
            results = []
            for picture, names, taught in zip(pictures, name_sets, taught_sets, strict=True):
                bonus = self._taught_bonus(names, taught, picture)
                scores = label_scores(picture, texts[names], self.model.logit_scale, bias, bonus)
                ranked = zip(names, scores.tolist(), strict=True)
                results.append(sorted(ranked, key=lambda pair: pair[1], reverse=True))
        return results

    @staticmethod
    def _taught_bonus(names: tuple[str, ...], taught: list[Taught], picture: torch.Tensor) -> torch.Tensor | None:
        """Each of ``names``' :func:`taught_bonus` for one image (0 for a label and an old-format class); None
        when nothing is taught."""
        vectors = [(name, vector) for name, vector in taught if vector is not None]
        if not vectors:
            return None
        means = normalize(torch.tensor([list(vector) for _name, vector in vectors], device=picture.device))
        if means.shape[-1] != picture.shape[-1]:
            raise ValueError(f"a taught class has {means.shape[-1]} dimensions, the model {picture.shape[-1]}")
        bonus = torch.zeros(len(names), device=picture.device)
        index = {name: position for position, name in enumerate(names)}
        rows = torch.tensor([index[name] for name, _vector in vectors], device=picture.device)
        return bonus.index_put((rows,), taught_bonus(picture.float(), means))

    def prototype(self, images: Sequence[Image.Image], name: str) -> list[float]:
        """A taught class's vector from its photos (``/teach``): their normalised mean embedding
        (:func:`few_shot_photo_mean`, format :data:`TAUGHT_VERSION`). ``name`` is not mixed in: the classifier
        scores a taught class's name by its text like a label's, and adds the photos' part apart
        (:func:`taught_bonus`)."""
        del name  # kept in the signature: the worker's call names the class
        if not images:
            raise ValueError("at least one photo is needed")
        with torch.inference_mode():
            return few_shot_photo_mean(self._image_embeddings(images)).tolist()

    def similarities(self, images: Sequence[Image.Image], text: str) -> list[float]:
        """Cosine similarity of each image to ``text`` (the prompt as typed, no template)."""
        prompt, pictures = self.embeddings(images, text)
        return (pictures @ prompt).tolist()

    def embeddings(self, images: Sequence[Image.Image], text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``text``'s (D,) and ``images``' (N, D) normalised embeddings: what cosine and a learned ranker read."""
        with torch.inference_mode():
            output = self.model.get_text_features(**self._tokenize([text]))
            return normalize(features(output, "text"))[0], self._image_embeddings(images)

    def scores(self, images: Sequence[Image.Image], text: str, ranker: LoadedRanker | None = None) -> list[float]:
        """Each image's fit to ``text``, higher better: cosine, or a learned ``ranker``'s score (in cosine's units)
        when one is given and reads this model's embedding size."""
        prompt, pictures = self.embeddings(images, text)
        if ranker is None or ranker.dims != pictures.shape[-1]:
            return (pictures @ prompt).tolist()
        return ranker.score(prompt, pictures).tolist()

    def shares(self, similarities: Sequence[float]) -> list[float]:
        """Turn the similarities of several images to one text into shares summing to 1 (a softmax over the
        images at the model's logit scale): how much more each image fits the text than the others."""
        logits = self.model.logit_scale.detach().float().exp().cpu() * torch.tensor(similarities, dtype=torch.float32)
        return logits.softmax(dim=-1).tolist()

    def rank_images(self, images: Sequence[Image.Image], text: str, ranker: LoadedRanker | None = None) -> list[int]:
        """Indices of ``images``, most similar to ``text`` first: ruDALL-E's best-of-N re-ranking (by a learned
        ``ranker`` instead of cosine when the worker has a live one, `workers.ranking`)."""
        scores = self.scores(images, text, ranker)
        return sorted(range(len(images)), key=lambda index: scores[index], reverse=True)

    def embedding_lists(self, images: Sequence[Image.Image], text: str) -> tuple[list[float], list[list[float]]]:
        """:meth:`embeddings` as plain float32 lists: what the feedback store keeps of a result for the learned
        re-ranker (issue #22)."""
        prompt, pictures = self.embeddings(images, text)
        return prompt.float().cpu().tolist(), pictures.float().cpu().tolist()

    def preload_labels(self, labels: Sequence[str]) -> str:
        """Make ``labels``' text embeddings ready and keep them in memory for the process's life (the worker's
        warm-up for the default set); with an ``embedding_dir``, also on disk: later loads of the same model read
        the file instead of running the text encoder. Returns where they came from: ``"memory"``, ``"disk"`` or
        ``"computed"`` (the text encoder ran, for some labels at least)."""
        unique = tuple(dict.fromkeys(labels))
        if not unique:
            raise ValueError("at least one label is needed")
        started = time.perf_counter()
        store = self.embedding_store()
        with self._lock:
            known = all(label in self._pinned for label in unique)
        stored = None if known or store is None else store.load(unique, self.templates)
        if stored is not None:
            embeddings = stored.to(self.device)
            self._remember(dict(zip(unique, embeddings, strict=True)), pin=True)
            source = "disk"
        else:
            with torch.inference_mode():
                found, encoded = self._embeddings_by_label(unique, pin=True)
            embeddings = torch.stack([found[label] for label in unique])
            source = "computed" if encoded else "memory"
            if store is not None and not (known and store.path(unique, self.templates).is_file()):
                store.save(unique, self.templates, embeddings)
        self._preloaded[unique] = embeddings
        if source != "memory":
            seconds = time.perf_counter() - started
            log.info("text embeddings of %d labels ready in %.1f s (%s)", len(unique), seconds, source)
        return source

    # --- /describe (models/interrogator.py): phrases scored as typed, without the label templates ---

    def phrase_embeddings(self, phrases: Sequence[str]) -> tuple[torch.Tensor, str]:
        """(N, D) normalised embeddings of ``phrases`` as typed (the template ``"{}"`` alone: a prompt's phrase is
        compared with a prompt, not with "фото с …"), and where they came from: ``"memory"``, ``"disk"`` or
        ``"computed"``. Computed once per model and set: kept in memory for the process's life and, with an
        ``embedding_dir``, on disk beside the default labels' (the store's key covers the template), so a restarted
        worker reads the file instead of running the text encoder over the whole phrase bank again."""
        unique = tuple(dict.fromkeys(phrases))
        if not unique:
            raise ValueError("at least one phrase is needed")
        known = self._phrase_sets.get(unique)
        if known is not None:
            return known, "memory"
        started = time.perf_counter()
        store = self.embedding_store()
        embeddings = None if store is None else store.load(unique, PLAIN_TEMPLATE)
        source = "disk"
        if embeddings is None:
            with torch.inference_mode():
                embeddings = self._encode_labels(unique, PLAIN_TEMPLATE)
            source = "computed"
            if store is not None:
                store.save(unique, PLAIN_TEMPLATE, embeddings)
        embeddings = embeddings.to(self.device)
        self._phrase_sets[unique] = embeddings
        seconds = time.perf_counter() - started
        log.info("text embeddings of %d phrases ready in %.1f s (%s)", len(unique), seconds, source)
        return embeddings, source

    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, D) normalised embeddings of ``texts`` as typed, through the text encoder (not kept: prompts being
        assembled are each new)."""
        with torch.inference_mode():
            return self._encode_labels(tuple(texts), PLAIN_TEMPLATE)

    def image_embedding(self, image: Image.Image) -> torch.Tensor:
        """The (D,) normalised embedding of ``image``."""
        with torch.inference_mode():
            return self._image_embedding(image)

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
        """(N, D) template-ensembled embeddings of ``labels``, in order (see :meth:`_label_set_embeddings`)."""
        return self._label_set_embeddings([labels])[labels]

    def _label_set_embeddings(self, label_sets: Sequence[tuple[str, ...]]) -> dict[tuple[str, ...], torch.Tensor]:
        """Each distinct label set's (N, D) embeddings; the labels not in memory yet, from all the sets, go through
        the text encoder together (:meth:`_encode_labels`)."""
        distinct = dict.fromkeys(label_sets)
        ready = {labels: self._preloaded[labels] for labels in distinct if labels in self._preloaded}
        others = [labels for labels in distinct if labels not in ready]
        if others:
            every_label = tuple(dict.fromkeys(label for labels in others for label in labels))
            found, _encoded = self._embeddings_by_label(every_label)
            ready.update({labels: torch.stack([found[label] for label in labels]) for labels in others})
        return ready

    def _embeddings_by_label(self, labels: tuple[str, ...], pin: bool = False) -> tuple[dict[str, torch.Tensor], int]:
        """Each of ``labels``' (D,) embedding, from memory or the text encoder, and how many were encoded.
        Encoded labels are remembered: for the process's life with ``pin`` (all of ``labels``), else in the LRU."""
        found = self._recall(labels)
        missing = tuple(label for label in labels if label not in found)
        if missing:
            found.update(zip(missing, self._encode_labels(missing), strict=True))
        self._remember({label: found[label] for label in (labels if pin else missing)}, pin)
        return found, len(missing)

    def _recall(self, labels: tuple[str, ...]) -> dict[str, torch.Tensor]:
        """The embeddings of those ``labels`` that are in memory (marking them recently used)."""
        found = {}
        with self._lock:
            for label in labels:
                embedding = self._pinned.get(label)
                if embedding is None:
                    embedding = self._recent.get(label)
                    if embedding is None:
                        continue
                    self._recent.move_to_end(label)
                found[label] = embedding
        return found

    def _remember(self, embeddings: dict[str, torch.Tensor], pin: bool) -> None:
        """Keep each label's (D,) embedding: pinned, or in the LRU of at most ``TEXT_CACHE_LABELS`` labels."""
        with self._lock:
            for label, embedding in embeddings.items():
                embedding = embedding.clone()  # not a view: an evicted label frees its memory
                if pin:
                    self._pinned[label] = embedding
                    self._recent.pop(label, None)
                elif label not in self._pinned:
                    self._recent[label] = embedding
                    self._recent.move_to_end(label)
            while len(self._recent) > TEXT_CACHE_LABELS:
                self._recent.popitem(last=False)

    def _encode_labels(self, labels: tuple[str, ...], templates: Sequence[str] | None = None) -> torch.Tensor:
        """(N, D) normalised embeddings of ``labels`` through the text encoder, as ruCLIP's ``Predictor`` makes
        them: each label's raw prompt embeddings (one per template) averaged, then normalised (averaging already
        normalised ones would weigh the templates differently). Prompts go through in passes of similar token
        length (see :meth:`_prompt_passes`)."""
        templates = self.templates if templates is None else tuple(templates)
        texts = [template.format(label.strip()) for label in labels for template in templates]
        tokens = self._tokenize(texts)
        passes = self._prompt_passes(tokens)
        encoded = torch.cat([self._encode_prompts(tokens, rows, length) for rows, length in passes])
        prompts = torch.empty_like(encoded)
        prompts[torch.cat([rows for rows, _length in passes]).to(encoded.device)] = encoded
        per_template = prompts.view(len(labels), len(templates), -1)
        return normalize(per_template.mean(dim=1))

    def _prompt_passes(self, tokens: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, int]]:
        """Which prompts (rows of ``tokens``) go through the text encoder together, and the tokens a pass needs.

        Padding costs as much as real tokens, and one long prompt pads a whole pass to its length (two thirds of
        the default set's padded tokens would be padding), so prompts go in order of length, in passes cut where
        the length changes once a pass has ``MIN_PASS_PROMPTS`` (fewer, larger passes keep the per-pass cost
        small), at most ``TEXT_BATCH_PROMPTS`` each. Without an attention mask (SigLIP pads every prompt to full
        length) or with left padding, every prompt is full length.
        """
        count, width = tokens["input_ids"].shape
        mask = tokens.get("attention_mask")
        pads_right = getattr(self.processor.tokenizer, "padding_side", "right") == "right"
        lengths = mask.sum(dim=1).cpu() if mask is not None and pads_right else torch.full((count,), width)
        order = lengths.argsort(stable=True)
        ordered = lengths[order].tolist()
        passes, start = [], 0
        for end in range(1, count + 1):
            size = end - start
            length_changes = end == count or ordered[end] != ordered[end - 1]
            if size == TEXT_BATCH_PROMPTS or (length_changes and (size >= MIN_PASS_PROMPTS or end == count)):
                passes.append((order[start:end], ordered[end - 1]))
                start = end
        return passes

    def _encode_prompts(self, tokens: dict[str, torch.Tensor], rows: torch.Tensor, length: int) -> torch.Tensor:
        """Raw (not normalised) float32 text embeddings of ``rows`` of ``tokens``, cut to their first ``length``
        tokens."""
        inputs = {name: value[rows.to(value.device), :length] for name, value in tokens.items()}
        return features(self.model.get_text_features(**inputs), "text").float()

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
