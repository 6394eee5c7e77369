"""ruCLIP checkpoints (``ai-forever/ruclip-vit-*``) as transformers ``CLIPModel``s, without ``ruclip``/``youtokentome``.

ruCLIP is an OpenAI-style CLIP (QuickGELU, a causal text transformer pooled at the eos token, context 77,
a ViT with a class embedding and ``ln_pre``/``ln_post``, projection matrices, ``logit_scale``) whose
tokenizer is a YouTokenToMe (YTTM) BPE. Each checkpoint repo holds ``bpe.model``, ruCLIP's own
``config.json`` and ``pytorch_model.bin``. Neither the ``ruclip`` package (it pins an ancient
huggingface_hub and needs torchvision) nor ``youtokentome`` is needed at run time. On Python 3.11 youtokentome
installs from its sdist, which builds with ``Cython<3`` and ``wheel`` installed first and
``pip install --no-build-isolation youtokentome`` (its setup.py imports Cython without declaring it): a compiler
and a fragile recipe the worker image does without. The dev set-up (``make``) installs it that way, and
tests/unit/models/test_ruclip.py checks this port against it, id for id:

- `read_yttm_model` parses ``bpe.model`` and `YttmBPE` encodes exactly like YTTM's ``encode_sentence``
  (youtokentome/cpp/bpe.cpp). It is a pure-Python port, not a ``tokenizers`` BPE, because YTTM merges
  token *ids*: two rules may build the same string as two different ids, which a ``tokenizers``
  vocabulary (keyed by string) cannot express; YTTM also has its own word splitting (ASCII whitespace
  and ``▁``) and collapses a run of unknown characters into one ``unk``. Words are cached, so label
  sets and queries encode in microseconds per word.
- `RuClipTokenizer` / `RuClipImageProcessor` reproduce ruCLIP's ``RuCLIPProcessor`` (lower-casing,
  ``[bos] ids[:75] [eos]`` padded with 0 to 77; centre square crop, bilinear resize, CLIP normalisation).
- `convert_state_dict` maps ruCLIP's weights onto ``CLIPModel``; `load_ruclip` loads a hub id or a local
  dir and caches the converted model (``save_pretrained``) so that a restarted worker does not convert
  again.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

if TYPE_CHECKING:
    from transformers import CLIPConfig, CLIPModel

log = logging.getLogger(__name__)

# Every checkpoint upstream publishes (ruclip.MODELS), with its ImageNet zero-shot top-1 from the ru-clip README.
# Any of them is a MODEL_CLASSIFIER; each repo's own config.json gives the sizes (image resolution, patch, widths);
# the tokenizer (bpe.model, bos 2 / eos 3, context 77) and the predictor's templates are the same for all.
KNOWN_CHECKPOINTS = {
    "ai-forever/ruclip-vit-base-patch32-224": 0.375,
    "ai-forever/ruclip-vit-base-patch16-224": 0.401,
    "ai-forever/ruclip-vit-large-patch14-224": 0.426,
    "ai-forever/ruclip-vit-base-patch32-384": 0.451,  # the presets' classifier
    "ai-forever/ruclip-vit-large-patch14-336": 0.488,  # the best; ~7x slower (22 vs 147 it/s on a V100, README)
    "ai-forever/ruclip-vit-base-patch16-384": 0.482,
}
BPE_FILE = "bpe.model"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "pytorch_model.bin"
RUCLIP_FILES = (BPE_FILE, CONFIG_FILE, WEIGHTS_FILE)
# A converted (cached) model keeps ruCLIP's config under this name next to transformers' config.json.
CONVERTED_CONFIG_FILE = "ruclip_config.json"
CONVERTER_VERSION = 1  # bump when the conversion changes so that cached conversions are redone

# ruCLIP's processor hard-codes these ids; the text model pools at EOS_ID.
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
CONTEXT_LENGTH = 77
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
RUCLIP_CONFIG_KEYS = (
    "embed_dim",
    "image_resolution",
    "vision_layers",
    "vision_width",
    "vision_patch_size",
    "context_length",
    "vocab_size",
    "transformer_width",
    "transformer_heads",
    "transformer_layers",
)

# --- YouTokenToMe BPE ------------------------------------------------------------------------

SPACE_TOKEN = "\u2581"  # "▁", YTTM's word-start meta symbol (SPACE_TOKEN = 9601 in utils.h)
# YTTM's is_space(): `ch < 256 && isspace(ch)` (C isspace: the six ASCII whitespace characters) or "▁".
_WORD = re.compile(f"[^ \t\n\v\f\r{SPACE_TOKEN}]+")
_UNKNOWN = -1  # stands for a run of characters missing from the model; no rule ever matches it
_MERGED = -2  # a list node whose token was merged into its left neighbour


@dataclass(frozen=True)
class YttmModel:
    """The contents of a YouTokenToMe ``bpe.model``: alphabet, merge rules in priority order, special ids."""

    char2id: Mapping[str, int]
    rules: tuple[tuple[int, int, int], ...]  # (x, y, z): token x followed by token y merges into z
    unk_id: int
    pad_id: int
    bos_id: int
    eos_id: int

    @property
    def vocab_size(self) -> int:
        """Number of ids, as YTTM counts them: characters + rules + special tokens in use."""
        specials = (self.unk_id, self.pad_id, self.bos_id, self.eos_id)
        return len(self.char2id) + len(self.rules) + sum(special != -1 for special in specials)


def read_yttm_model(path: str | Path) -> YttmModel:
    """Parse a YTTM ``bpe.model`` (``BPEState::load`` in youtokentome/cpp/utils.cpp).

    The file is whitespace-separated integers: ``n m``, then n lines ``codepoint id``, then m rules
    ``x y z`` (in priority order), then ``unk_id pad_id bos_id eos_id``.
    """
    numbers = [int(token) for token in Path(path).read_text(encoding="ascii").split()]
    if len(numbers) < 2:
        raise ValueError(f"{path}: not a YouTokenToMe BPE model (too short)")
    n_chars, n_rules = numbers[:2]
    rules_at = 2 + 2 * n_chars
    specials_at = rules_at + 3 * n_rules
    if len(numbers) != specials_at + 4:
        raise ValueError(f"{path}: not a YouTokenToMe BPE model ({len(numbers)} numbers for {n_chars}/{n_rules})")
    pairs = numbers[2:rules_at]
    char2id = {chr(code): token for code, token in zip(pairs[::2], pairs[1::2], strict=True)}
    rules = tuple((numbers[i], numbers[i + 1], numbers[i + 2]) for i in range(rules_at, specials_at, 3))
    if SPACE_TOKEN not in char2id:
        raise ValueError(f"{path}: YouTokenToMe model without the '{SPACE_TOKEN}' symbol")
    unk_id, pad_id, bos_id, eos_id = numbers[specials_at:]
    return YttmModel(char2id, rules, unk_id, pad_id, bos_id, eos_id)


def split_words(text: str) -> list[str]:
    """YTTM's words: maximal runs of characters that are neither ASCII whitespace nor ``▁``."""
    return _WORD.findall(text)


class YttmBPE:
    """YouTokenToMe BPE encoding (``BaseEncoder::encode_sentence``, no dropout), without the package.

    Each word becomes ``▁`` followed by its characters (a run of characters missing from the model is
    one unknown symbol, emitted as ``unk_id``); then merges apply by rule priority (earliest rule in the
    file first) and, for equal rules, left to right, until no adjacent pair has a rule.
    """

    def __init__(self, model: YttmModel, cache_size: int = 1 << 16):
        self.model = model
        # Later duplicates win, like rule2id in fill_from_state().
        self._rules = {(x, y): (rank, z) for rank, (x, y, z) in enumerate(model.rules)}
        self._space = model.char2id[SPACE_TOKEN]
        self._encode_word = functools.lru_cache(maxsize=cache_size)(self._merge_word)

    @classmethod
    def from_file(cls, path: str | Path) -> YttmBPE:
        """Read ``bpe.model`` at ``path``."""
        return cls(read_yttm_model(path))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no lower-casing, no bos/eos), as ``yttm.BPE.encode([text])[0]``."""
        ids: list[int] = []
        for word in split_words(text):
            ids.extend(self._encode_word(word))
        return ids

    def _symbols(self, word: str) -> list[int]:
        """``▁`` + the word's character ids, each run of unknown characters collapsed into one symbol."""
        symbols = [self._space]
        for char in word:
            token = self.model.char2id.get(char, _UNKNOWN)
            if token != _UNKNOWN or symbols[-1] != _UNKNOWN:
                symbols.append(token)
        return symbols

    def _merge_word(self, word: str) -> tuple[int, ...]:
        """Apply the merge rules to one word with a linked list and a (rule rank, position) heap."""
        tokens = self._symbols(word)
        following = [*range(1, len(tokens)), -1]
        preceding = list(range(-1, len(tokens) - 1))
        queue: list[tuple[int, int]] = []

        def push(pos: int) -> None:
            after = following[pos]
            rule = self._rules.get((tokens[pos], tokens[after])) if after != -1 else None
            if rule is not None:
                heapq.heappush(queue, (rule[0], pos))

        for pos in range(len(tokens) - 1):
            push(pos)
        while queue:
            rank, left = heapq.heappop(queue)
            right = following[left]
            x, y, z = self.model.rules[rank]
            if right == -1 or tokens[left] != x or tokens[right] != y:
                continue  # stale: one side was merged away since this pair was queued
            tokens[left], tokens[right] = z, _MERGED
            following[left] = following[right]
            if following[left] != -1:
                preceding[following[left]] = left
                push(left)
            if preceding[left] != -1:
                push(preceding[left])
        alive = (token for token in tokens if token != _MERGED)
        return tuple(self.model.unk_id if token == _UNKNOWN else token for token in alive)


# --- ruCLIP's processor -----------------------------------------------------------------------


class RuClipTokenizer:
    """ruCLIP's text processing: lower-case, YTTM BPE, ``[bos] ids[:L-2] [eos]``, pad with 0 up to ``L``."""

    pad_token_id, unk_token_id, bos_token_id, eos_token_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(self, bpe: YttmBPE, context_length: int = CONTEXT_LENGTH):
        if context_length < 2:
            raise ValueError("context_length must leave room for bos and eos")
        self.bpe = bpe
        self.model_max_length = context_length
        specials = (bpe.model.pad_id, bpe.model.unk_id, bpe.model.bos_id, bpe.model.eos_id)
        if specials != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            log.warning("bpe.model special ids %s differ from ruCLIP's (0, 1, 2, 3); using ruCLIP's", specials)

    @classmethod
    def from_file(cls, path: str | Path, context_length: int = CONTEXT_LENGTH) -> RuClipTokenizer:
        """Read a YTTM ``bpe.model``."""
        return cls(YttmBPE.from_file(path), context_length)

    def __len__(self) -> int:
        return self.bpe.model.vocab_size

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """``[bos] + bpe(text.lower())[: L - 2] + [eos]`` without padding (``L``: ``max_length`` or 77)."""
        length = max_length or self.model_max_length
        return [BOS_ID, *self.bpe.encode(text.lower())[: length - 2], EOS_ID]

    def __call__(
        self,
        texts: str | Sequence[str],
        *,
        padding: bool | str = "max_length",
        truncation: bool = True,
        max_length: int | None = None,
        return_tensors: str | None = "pt",
    ) -> dict[str, Any]:
        """Encode a batch like transformers tokenizers do: ``input_ids`` and ``attention_mask``.

        ``padding="max_length"`` (the default) gives ruCLIP's exact layout (every row ``L`` long);
        ``True``/``"longest"`` pads to the longest row, which the causal text model encodes identically.
        Texts are always truncated to ``L`` like ruCLIP does (``truncation`` exists for compatibility).
        """
        del truncation
        rows = [self.encode(text, max_length) for text in ([texts] if isinstance(texts, str) else texts)]
        width = _padded_width(rows, padding, max_length or self.model_max_length)
        ids = [row + [PAD_ID] * (width - len(row)) for row in rows]
        mask = [[1] * len(row) + [0] * (width - len(row)) for row in rows]
        if return_tensors == "pt":
            return {"input_ids": torch.tensor(ids, dtype=torch.long), "attention_mask": torch.tensor(mask)}
        if return_tensors is None:
            return {"input_ids": ids, "attention_mask": mask}
        raise ValueError(f"return_tensors={return_tensors!r} is not supported (use 'pt' or None)")


def _padded_width(rows: list[list[int]], padding: bool | str, max_length: int) -> int:
    if padding == "max_length":
        return max_length
    if padding is True or padding == "longest":
        return max(map(len, rows), default=0)
    raise ValueError(f"padding={padding!r} is not supported (use 'max_length', 'longest' or True)")


class RuClipImageProcessor:
    """ruCLIP's image transform: RGB, centre square crop, bilinear resize to ``image_size``, normalise.

    ruCLIP uses ``RandomResizedCrop(size, scale=(1, 1), ratio=(1, 1))``, which for any non-square
    photo falls back to torchvision's centre crop of the shorter side (for square photos it keeps the
    whole image); this is that crop, deterministically, followed by the same PIL bilinear resize,
    ``ToTensor`` and ``Normalize``. No torchvision needed.
    """

    def __init__(self, image_size: int, mean: Sequence[float] = OPENAI_MEAN, std: Sequence[float] = OPENAI_STD):
        self.image_size = image_size
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def __call__(self, images: Image.Image | Iterable[Image.Image], return_tensors: str = "pt") -> dict[str, Any]:
        """``{"pixel_values": (N, 3, S, S) float32 tensor}`` for one image or several."""
        if return_tensors != "pt":
            raise ValueError("only return_tensors='pt' is supported")
        batch = [images] if isinstance(images, Image.Image) else list(images)
        return {"pixel_values": torch.stack([self.transform(image) for image in batch])}

    def transform(self, image: Image.Image) -> torch.Tensor:
        """One image as a normalised ``(3, S, S)`` tensor."""
        image = image.convert("RGB") if image.mode != "RGB" else image
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        square = image.crop((left, top, left + side, top + side))
        resized = square.resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
        pixels = torch.from_numpy(np.asarray(resized, dtype=np.uint8).copy()).permute(2, 0, 1)
        return (pixels.float().div(255) - self.mean) / self.std


@dataclass
class RuClipProcessor:
    """Tokenizer + image processor with the attribute names of a transformers ``CLIPProcessor``."""

    tokenizer: RuClipTokenizer
    image_processor: RuClipImageProcessor

    @classmethod
    def from_dir(cls, path: str | Path) -> RuClipProcessor:
        """Build from a ruCLIP dir (or a converted one): ``bpe.model`` plus ruCLIP's config."""
        path = Path(path)
        config = read_ruclip_config(path)
        tokenizer = RuClipTokenizer.from_file(path / BPE_FILE, config["context_length"])
        image_processor = RuClipImageProcessor(
            config["image_resolution"], config.get("mean") or OPENAI_MEAN, config.get("std") or OPENAI_STD
        )
        return cls(tokenizer, image_processor)

    def __call__(self, text: str | Sequence[str] | None = None, images: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Tokenize ``text`` and/or preprocess ``images``; keyword arguments go to the tokenizer."""
        inputs: dict[str, Any] = {}
        if text is not None:
            inputs.update(self.tokenizer(text, **kwargs))
        if images is not None:
            inputs.update(self.image_processor(images))
        return inputs


# --- checkpoint detection and conversion ------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def is_ruclip_config(config: Mapping[str, Any]) -> bool:
    """True for ruCLIP's own config format (OpenAI-CLIP-style keys, no transformers ``model_type``)."""
    return "model_type" not in config and all(key in config for key in RUCLIP_CONFIG_KEYS)


def read_ruclip_config(path: str | Path) -> dict[str, Any]:
    """ruCLIP's config from a ruCLIP dir (``config.json``) or a converted one (``ruclip_config.json``)."""
    path = Path(path)
    for name in (CONVERTED_CONFIG_FILE, CONFIG_FILE):
        config = _read_json(path / name)
        if is_ruclip_config(config):
            return config
    raise ValueError(f"{path}: no ruCLIP config ({CONFIG_FILE} with {', '.join(RUCLIP_CONFIG_KEYS)})")


def is_ruclip_dir(path: str | Path) -> bool:
    """True for a dir with ``bpe.model`` and a ruCLIP config (original or converted by `load_ruclip`)."""
    path = Path(path)
    if not (path / BPE_FILE).is_file():
        return False
    return any(is_ruclip_config(_read_json(path / name)) for name in (CONVERTED_CONFIG_FILE, CONFIG_FILE))


def is_ruclip(model: str | Path) -> bool:
    """Whether ``model`` (a local dir or a hub id) is a ruCLIP checkpoint.

    A local dir is judged by its files. For a hub id the repo's ``config.json`` is fetched (cached by
    huggingface_hub, as transformers would do anyway); if the hub cannot be asked, a repo name
    containing ``ruclip`` decides.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return is_ruclip_dir(path)
    if path.exists() or str(model).count("/") != 1:
        return False
    try:
        from huggingface_hub import hf_hub_download

        config = _read_json(Path(hf_hub_download(str(model), CONFIG_FILE)))
    except Exception as exc:  # offline, gated, missing file...: fall back to the name
        log.debug("cannot fetch %s/%s (%s); judging by name", model, CONFIG_FILE, exc)
        return "ruclip" in str(model).lower()
    return is_ruclip_config(config)


def clip_config(ruclip_config: Mapping[str, Any]) -> CLIPConfig:
    """The transformers ``CLIPConfig`` equivalent to a ruCLIP config (QuickGELU, eos id 3, 64-wide vision heads)."""
    from transformers import CLIPConfig

    c = ruclip_config
    common = {"hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "projection_dim": c["embed_dim"]}
    text = {
        **common,
        "vocab_size": c["vocab_size"],
        "hidden_size": c["transformer_width"],
        "intermediate_size": 4 * c["transformer_width"],
        "num_hidden_layers": c["transformer_layers"],
        "num_attention_heads": c["transformer_heads"],
        "max_position_embeddings": c["context_length"],
        "pad_token_id": PAD_ID,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
    }
    vision = {
        **common,
        "hidden_size": c["vision_width"],
        "intermediate_size": 4 * c["vision_width"],
        "num_hidden_layers": c["vision_layers"],
        "num_attention_heads": c["vision_width"] // 64,  # ruclip/model.py: vision_heads = vision_width // 64
        "image_size": c["image_resolution"],
        "patch_size": c["vision_patch_size"],
    }
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=c["embed_dim"])


_TOP_LEVEL = {
    "logit_scale": "logit_scale",
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
    "visual.class_embedding": "vision_model.embeddings.class_embedding",
    "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
    "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "visual.ln_post.weight": "vision_model.post_layernorm.weight",
    "visual.ln_post.bias": "vision_model.post_layernorm.bias",
}
_PROJECTIONS = {"text_projection": "text_projection.weight", "visual.proj": "visual_projection.weight"}
_TOWERS = (
    ("visual.transformer.resblocks.", "vision_model.encoder.layers."),
    ("transformer.resblocks.", "text_model.encoder.layers."),
)
_BLOCK = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
    "attn.out_proj": "self_attn.out_proj",
}
_METADATA = {"input_resolution", "context_length", "vocab_size"}  # OpenAI JIT-era extras, not weights


def convert_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a ruCLIP ``state_dict`` onto transformers' ``CLIPModel`` names and layouts.

    ``attn.in_proj_*`` splits into q/k/v, the projection matrices (``x @ proj``) become ``Linear``
    weights (transposed); everything else is renamed. An unknown key raises ``KeyError``.
    """
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if key not in _METADATA:
            converted.update(_convert_entry(key, tensor))
    return converted


def _convert_entry(key: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    if key in _TOP_LEVEL:
        return {_TOP_LEVEL[key]: tensor}
    if key in _PROJECTIONS:
        return {_PROJECTIONS[key]: tensor.t().contiguous()}
    for source, target in _TOWERS:
        if key.startswith(source):
            layer, name = key.removeprefix(source).split(".", 1)
            return _convert_block(f"{target}{layer}.", name, tensor)
    raise KeyError(f"unexpected key in a ruCLIP checkpoint: {key}")


def _convert_block(prefix: str, name: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    if name in ("attn.in_proj_weight", "attn.in_proj_bias"):
        kind = name.rsplit("_", 1)[1]
        q, k, v = tensor.chunk(3, dim=0)
        return {f"{prefix}self_attn.{p}_proj.{kind}": t.contiguous() for p, t in zip("qkv", (q, k, v), strict=True)}
    module, param = name.rsplit(".", 1)
    if module not in _BLOCK:
        raise KeyError(f"unexpected key in a ruCLIP checkpoint: {prefix}{name}")
    return {f"{prefix}{_BLOCK[module]}.{param}": tensor}


def convert_checkpoint(source: str | Path) -> CLIPModel:
    """Build a float32 ``CLIPModel`` from the ruCLIP checkpoint in dir ``source`` (strict: every weight used)."""
    from transformers import CLIPModel

    source = Path(source)
    config = clip_config(read_ruclip_config(source))
    state = torch.load(source / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    with torch.random.fork_rng(devices=[]):  # random init of weights about to be replaced: leave the RNG alone
        model = CLIPModel(config)
    model.load_state_dict(convert_state_dict(state), strict=True)
    return model.float().eval()


def save_converted(source: str | Path, target: str | Path) -> Path:
    """Convert ``source`` and save it to ``target``: transformers files + ``bpe.model`` + ruCLIP's config."""
    source, target = Path(source), Path(target)
    convert_checkpoint(source).save_pretrained(target)
    shutil.copyfile(source / BPE_FILE, target / BPE_FILE)
    (target / CONVERTED_CONFIG_FILE).write_text(json.dumps(read_ruclip_config(source)), encoding="utf-8")
    return target


# --- loading -----------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Where converted checkpoints are kept: ``$MODEL_CACHE_DIR/ruclip`` or ``~/.cache/molbert/ruclip``."""
    root = os.environ.get("MODEL_CACHE_DIR") or Path.home() / ".cache" / "molbert"
    return Path(root).expanduser() / "ruclip"


def resolve_source(model: str | Path) -> Path:
    """A local dir as it is; a hub id downloaded (only ruCLIP's three files) with huggingface_hub."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(str(model), allow_patterns=list(RUCLIP_FILES)))


def cache_key(model: str | Path, source: Path) -> str:
    """Dir name of ``source``'s conversion: readable model name + hash of path, file sizes and times."""
    digest = hashlib.sha256(f"v{CONVERTER_VERSION}\n{source.resolve()}\n".encode())
    for name in RUCLIP_FILES:
        stat = (source / name).stat()
        digest.update(f"{name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(model).strip("/"))[-60:].strip("-.") or "ruclip"
    return f"{name}-{digest.hexdigest()[:16]}"


def _converted_dir(model: str | Path, source: Path, cache_dir: Path) -> Path | None:
    """The cached conversion of ``source`` (made now if missing), or None if the cache is not writable."""
    from models.tiny import _build_atomically

    target = cache_dir / cache_key(model, source)
    try:
        return _build_atomically(target, lambda tmp: save_converted(source, tmp))
    except OSError as exc:
        log.warning("cannot cache the converted ruCLIP model in %s (%s); converting in memory", cache_dir, exc)
        return None


def load_ruclip(
    model: str | Path,
    *,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    cache_dir: str | Path | None = None,
    cache: bool = True,
) -> tuple[CLIPModel, RuClipProcessor]:
    """Load a ruCLIP checkpoint (hub id or local dir) as an eval-mode ``CLIPModel`` and its processor.

    The first load converts the weights and, with ``cache``, saves the conversion under ``cache_dir``
    (default `default_cache_dir`) keyed by the source; later loads read the saved ``CLIPModel``. A dir
    that is itself a saved conversion loads directly.
    """
    from transformers import CLIPModel

    dtype = dtype or torch.float32
    source = resolve_source(model)
    processor = RuClipProcessor.from_dir(source)
    if (source / CONVERTED_CONFIG_FILE).is_file():
        converted: Path | None = source
    else:
        converted = _converted_dir(model, source, Path(cache_dir or default_cache_dir())) if cache else None
    if converted is None:
        net = convert_checkpoint(source).to(dtype)  # type: ignore[arg-type]  # transformers' wrapped .to() is typed as taking the model
    else:
        net = CLIPModel.from_pretrained(converted, dtype=dtype)
    return net.to(device).eval(), processor
