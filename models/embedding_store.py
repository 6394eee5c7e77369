"""Label-set text embeddings persisted on disk, so that a restarted worker does not run the text encoder again.

A real-size ruCLIP needs seconds to tens of seconds on a 2-core CPU to push the default label set (514 labels ×
6 templates) through its text encoder (docs/benchmarks.md); the result is a small ``(labels, D)`` float32 tensor
(about 1 MB). It is kept as ``<dir>/<model>-<model hash>/<label-set hash>.pt``:

- the *model hash* covers the model's name, type and config, its dtype, the tokenizer's size and a checksum
  of every parameter (name, shape, dtype, float64 sum and a strided sample of values), so different weights
  (another checkpoint, a re-conversion with changed weights, another dtype) never share a file;
- the *label-set hash* covers the labels (in order) and the prompt templates;
- the model hash also covers ``FORMAT_VERSION``, raised whenever the way embeddings are computed changes, so a
  worker never reads what an older version computed differently.

The file also records its labels and templates and is checked against them on load; a file that cannot be
read, does not match or holds non-finite values is ignored (logged) and rewritten. Writes go to a temporary
file in the same dir and are renamed into place, so readers never see half a file and racing workers are
harmless.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

# Part of every key: bump it when the stored values change, in format or in how the classifier computes them, so
# that files of an older version are never read (2: templates' raw embeddings averaged, then normalised).
FORMAT_VERSION = 2
SAMPLE_VALUES = 256  # values sampled (strided) from each parameter for the model hash


def model_fingerprint(model: torch.nn.Module, name: str, processor: Any = None) -> str:
    """A short hash identifying ``model``'s weights and text pipeline (see the module docstring)."""
    digest = hashlib.sha256(f"v{FORMAT_VERSION}\n{name}\n{type(model).__name__}\n".encode())
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "to_dict"):
        digest.update(json.dumps(config.to_dict(), sort_keys=True, default=str).encode())
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is not None:
        digest.update(f"\n{type(tokenizer).__name__} {len(tokenizer)}\n".encode())
    with torch.inference_mode():
        for key, tensor in sorted(model.state_dict().items()):
            flat = tensor.detach().reshape(-1)
            sample = flat[:: max(1, flat.numel() // SAMPLE_VALUES)][:SAMPLE_VALUES].float().cpu()
            total = flat.sum(dtype=torch.float64).item() if flat.is_floating_point() else int(flat.sum().item())
            digest.update(f"{key} {tuple(tensor.shape)} {tensor.dtype} {total!r}\n".encode())
            digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:20]


def label_set_hash(labels: Sequence[str], templates: Sequence[str]) -> str:
    """A short hash of the labels (in order) and the prompt templates."""
    payload = json.dumps({"labels": list(labels), "templates": list(templates)}, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


class EmbeddingStore:
    """Label-set embeddings of one model under ``root`` (e.g. ``$MODEL_CACHE_DIR/text-embeddings``)."""

    def __init__(self, root: str | Path, model_name: str, fingerprint: str):
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name.strip("/"))[-60:].strip("-.") or "model"
        self.dir = Path(root) / f"{slug}-{fingerprint}"

    def path(self, labels: Sequence[str], templates: Sequence[str]) -> Path:
        """The file holding the embeddings of ``labels`` with ``templates``."""
        return self.dir / f"{label_set_hash(labels, templates)}.pt"

    def load(self, labels: Sequence[str], templates: Sequence[str]) -> torch.Tensor | None:
        """The stored ``(len(labels), D)`` float32 embeddings, or None if missing, unreadable or not matching."""
        path = self.path(labels, templates)
        if not path.is_file():
            return None
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            embeddings = data["embeddings"]
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"format version {data.get('version')!r}")
            if list(data["labels"]) != list(labels) or list(data["templates"]) != list(templates):
                raise ValueError("labels or templates differ")
            if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2 or len(embeddings) != len(labels):
                raise ValueError("wrong shape")
            if not torch.isfinite(embeddings).all():
                raise ValueError("non-finite values")
        except Exception as exc:  # corrupt, truncated, foreign: recompute and rewrite
            log.warning("ignoring stored text embeddings %s (%s); they will be recomputed", path, exc)
            return None
        return embeddings.float()

    def save(self, labels: Sequence[str], templates: Sequence[str], embeddings: torch.Tensor) -> Path | None:
        """Write the embeddings atomically (temp file + rename); None (logged) if the dir is not writable."""
        path = self.path(labels, templates)
        data = {
            "version": FORMAT_VERSION,
            "labels": list(labels),
            "templates": list(templates),
            "embeddings": embeddings.detach().float().cpu().contiguous(),
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as file:
                    torch.save(data, file)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("cannot store text embeddings in %s (%s); they stay in memory only", path.parent, exc)
            return None
        return path
