"""A learned re-ranker of a request's candidate pictures, trained on which one its user chose (issue #22).

Each U press on a grid says "this candidate beat the others": a pairwise signal, learned with RankNet's loss and
LambdaRank's weighting (each pair weighted by how much swapping it changes nDCG). A candidate's features come from
the CLIP embeddings the worker computes for ranking anyway: the prompt's text embedding, the picture's image
embedding, their elementwise product and their cosine. The score is ``a * cosine + f(features)`` with ``a = 1`` and
``f = 0`` at the start, so an untrained (or barely trained) ranker is plain cosine, and its scores stay in cosine's
units (the worker's shares of an album ranking read them as it reads cosines).

A 🔄 (``chosen`` None, all rejected) gives no pairs: every candidate lost to nothing we saw, so nothing orders
them. Each chat's total weight is capped (``chat_cap`` grids' worth), so one chat pressing thousands of times
weighs no more than a chat that pressed ``chat_cap`` times. The held-out set is the latest ``holdout`` share of the
grids by time; the metrics (nDCG@1, nDCG@4, pairwise accuracy) are computed there for the ranker and for cosine,
weighted by chat the same way. Workers switch to a ranker only when its held-out nDCG@1 beats cosine's by the
operator's margin (:func:`beats_cosine`), and only for the CLIP model it was trained for.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.preferences import Preference

MODEL_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
VERSION_PREFIX = "ranker-v"
DECISIVE_METRIC = "ndcg@1"  # what the switch compares: the first candidate is the one --best and /rank show first
SIGMA = 100.0  # RankNet's score scale: CLIP's logit scale, so cosine differences of a few hundredths are decisive
_VERSION_DIR = re.compile(rf"^{VERSION_PREFIX}(\d+)$")


@dataclass(frozen=True)
class TrainOptions:
    """How a ranker is trained; the defaults suit a few hundred to tens of thousands of presses."""

    holdout: float = 0.2  # the latest share of the grids (by time) kept for the metrics
    min_preferences: int = 30  # grids with a winner, below which no model is trained (cosine stays)
    min_held_out: int = 8  # held-out grids the metrics need at least
    chat_cap: float = 50.0  # a chat's total weight, in grids, at most
    hidden: int = 0  # 0: a linear residual; else a one-hidden-layer MLP of this width
    # No pull towards cosine and 200 epochs: with l2=0.01 and 40 epochs, the ranker learnt through the bot stopped at
    # nDCG@1 0.82 from 50 to 1000 presses on a subtle taste; without them it grew to 0.89, its linear probe 0.94
    # (bench/learning_bot.py), and drawn pictures scored the same either way (bench/learning.py). A weak ranker is
    # kept out by the switch (held-out nDCG@1 against cosine's), not by a pull.
    epochs: int = 200
    batch: int = 64
    learning_rate: float = 0.01
    l2: float = 0.0  # on the residual: > 0 pulls a ranker towards cosine
    seed: int = 0


class RankerNet(nn.Module):
    """Scores each candidate of a grid: ``cosine_weight * cosine + residual(features)``."""

    def __init__(self, dims: int, hidden: int = 0) -> None:
        super().__init__()
        self.dims, self.hidden = dims, hidden
        width = 3 * dims + 1
        self.cosine_weight = nn.Parameter(torch.ones(()))
        last = nn.Linear(hidden or width, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.residual = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), last) if hidden else last

    def forward(self, prompts: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """``prompts`` (B, D) and each one's candidates ``images`` (B, K, D), unit length → scores (B, K)."""
        texts = prompts.unsqueeze(1).expand_as(images)
        cosine = (texts * images).sum(dim=-1, keepdim=True)
        features = torch.cat([texts, images, texts * images, cosine], dim=-1)
        return self.cosine_weight * cosine.squeeze(-1) + self.residual(features).squeeze(-1)


@dataclass(frozen=True)
class Grids:
    """Preferences with a winner as padded tensors: ``images`` (N, K, D), ``mask`` (N, K) for real candidates."""

    prompts: torch.Tensor
    images: torch.Tensor
    mask: torch.Tensor
    chosen: torch.Tensor
    weights: torch.Tensor  # per grid: the chat cap's share
    chats: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.chats)


@dataclass(frozen=True)
class Training:
    """What :func:`train` made: the model (``None`` when the data were too few) and its report (metrics.json)."""

    model: RankerNet | None
    report: dict[str, Any]


def usable(preferences: Iterable[Preference], dims: int | None = None) -> list[Preference]:
    """The preferences a ranker learns from: a winner among two or more candidates of one embedding size (``dims``;
    by default the latest preference's: after a change of CLIP model, the new model's choices)."""
    every = list(preferences)
    if dims is None and every:
        dims = len(max(every, key=lambda p: p.at).prompt_embedding)
    kept = []
    for preference in every:
        sizes = {len(preference.prompt_embedding), *(len(image) for image in preference.image_embeddings)}
        if preference.chosen is None or len(preference.image_embeddings) < 2 or len(sizes) != 1:
            continue
        if not 0 <= preference.chosen < len(preference.image_embeddings):
            continue
        if sizes != {dims}:
            continue
        kept.append(preference)
    return kept


def chat_weights(chats: Sequence[str], cap: float) -> list[float]:
    """Each grid's weight: 1, or less for a chat with more than ``cap`` grids, so that its total is ``cap``."""
    counts = Counter(chats)
    return [min(1.0, cap / counts[chat]) for chat in chats]


def to_grids(preferences: Sequence[Preference], cap: float) -> Grids:
    """Stack ``preferences`` (all :func:`usable`, one size) into padded tensors, weighted per chat."""
    widest = max(len(p.image_embeddings) for p in preferences)
    dims = len(preferences[0].prompt_embedding)
    images = torch.zeros(len(preferences), widest, dims)
    mask = torch.zeros(len(preferences), widest, dtype=torch.bool)
    for row, preference in enumerate(preferences):
        count = len(preference.image_embeddings)
        images[row, :count] = torch.tensor(preference.image_embeddings)
        mask[row, :count] = True
    chats = tuple(p.chat_key for p in preferences)
    return Grids(
        prompts=torch.tensor([p.prompt_embedding for p in preferences]),
        images=images,
        mask=mask,
        chosen=torch.tensor([p.chosen for p in preferences]),
        weights=torch.tensor(chat_weights(chats, cap)),
        chats=chats,
    )


def _gain(rank: torch.Tensor) -> torch.Tensor:
    """nDCG's discount of a 1-based rank; with one relevant candidate per grid nDCG is this (IDCG is 1)."""
    return 1.0 / torch.log2(rank.float() + 1.0)


def pairwise_loss(
    scores: torch.Tensor, chosen: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """RankNet's loss over the pairs (chosen, other) of each grid, each pair weighted by LambdaRank's |ΔnDCG| of
    swapping the two in the current order, and by its grid's chat weight; averaged over the weight."""
    masked = scores.masked_fill(~mask, float("-inf"))
    with torch.no_grad():
        ranks = masked.argsort(dim=1, descending=True).argsort(dim=1) + 1
        chosen_rank = ranks.gather(1, chosen[:, None])
        delta = (_gain(chosen_rank) - _gain(ranks)).abs()
    winner = scores.gather(1, chosen[:, None])
    others = mask.clone()
    others[torch.arange(len(chosen)), chosen] = False
    pair_loss = nn.functional.softplus(-SIGMA * (winner - scores))  # log(1 + exp(-σ(s_win - s_other)))
    per_grid = (pair_loss * delta * others).sum(dim=1)
    return (per_grid * weights).sum() / weights.sum().clamp_min(1e-9)


def ranking_metrics(scores: torch.Tensor, chosen: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> dict:
    """nDCG@1, nDCG@4 and pairwise accuracy (the chosen one above another) of ``scores``, weighted per grid; ties
    count as the average over the tied places (a tie with the winner is half a pair right)."""
    masked = scores.masked_fill(~mask, float("-inf"))
    winner = masked.gather(1, chosen[:, None])
    above = ((masked > winner) & mask).sum(dim=1)
    tied = ((masked == winner) & mask).sum(dim=1)  # the winner included
    others = (mask.sum(dim=1) - 1).clamp_min(1)
    pairs = ((masked < winner) & mask).sum(dim=1) + 0.5 * (tied - 1)
    figures: dict[str, torch.Tensor] = {"pairwise_accuracy": pairs / others}
    for cutoff in (1, 4):
        gains = torch.zeros(len(chosen))
        for row in range(len(chosen)):
            places = torch.arange(int(above[row]) + 1, int(above[row] + tied[row]) + 1)
            gains[row] = (_gain(places) * (places <= cutoff)).mean()
        figures[f"ndcg@{cutoff}"] = gains
    total = weights.sum().clamp_min(1e-9)
    return {name: round(float((values * weights).sum() / total), 4) for name, values in figures.items()}


def cosine_scores(grids: Grids) -> torch.Tensor:
    """Plain cosine: the prompt's text embedding against each candidate's image embedding."""
    return (grids.prompts.unsqueeze(1) * grids.images).sum(dim=-1)


def split_by_time(preferences: Sequence[Preference], holdout: float) -> tuple[list[Preference], list[Preference]]:
    """Oldest first; the latest ``holdout`` share (at least one) held out."""
    ordered = sorted(preferences, key=lambda p: p.at)
    held = max(1, math.ceil(holdout * len(ordered)))
    return ordered[:-held], ordered[-held:]


def train(preferences: Iterable[Preference], options: TrainOptions | None = None) -> Training:
    """Train a ranker on ``preferences``; deterministic for ``options.seed``. Too few usable preferences (or too
    few held out) give no model: cosine stays."""
    options = options or TrainOptions()
    every = list(preferences)
    kept = usable(every)
    report: dict[str, Any] = {"preferences": len(every), "usable": len(kept), "options": options.__dict__}
    train_set, held_out = split_by_time(kept, options.holdout) if kept else ([], [])
    if len(kept) < options.min_preferences or len(held_out) < options.min_held_out:
        report["skipped"] = (
            f"{len(kept)} preferences with a winner ({len(held_out)} held out): "
            f"at least {options.min_preferences} ({options.min_held_out} held out) are needed"
        )
        return Training(None, report)
    training, testing = to_grids(train_set, options.chat_cap), to_grids(held_out, options.chat_cap)
    model = _fit(training, options)
    with torch.no_grad():
        report["held_out"] = {
            "ranker": ranking_metrics(
                model(testing.prompts, testing.images), testing.chosen, testing.mask, testing.weights
            ),
            "cosine": ranking_metrics(cosine_scores(testing), testing.chosen, testing.mask, testing.weights),
        }
    report.update(dims=model.dims, hidden=model.hidden, train_grids=len(training), held_out_grids=len(testing))
    report["chats"] = len(set(training.chats) | set(testing.chats))
    return Training(model, report)


def _fit(grids: Grids, options: TrainOptions) -> RankerNet:
    """Mini-batch Adam on :func:`pairwise_loss` plus an L2 pull of the residual towards zero (towards cosine)."""
    generator = torch.Generator().manual_seed(options.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        model = RankerNet(grids.images.shape[-1], options.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
    residual = [p for p in model.residual.parameters()]
    for _epoch in range(options.epochs):
        for rows in torch.randperm(len(grids), generator=generator).split(options.batch):
            scores = model(grids.prompts[rows], grids.images[rows])
            loss = pairwise_loss(scores, grids.chosen[rows], grids.mask[rows], grids.weights[rows])
            loss = loss + options.l2 * sum((p**2).sum() for p in residual)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def beats_cosine(report: dict[str, Any], margin: float, metric: str = DECISIVE_METRIC) -> bool:
    """Whether a ranker's held-out ``metric`` is above cosine's by more than ``margin`` (the switch)."""
    figures = report.get("held_out")
    if not figures:
        return False
    return float(figures["ranker"][metric]) > float(figures["cosine"][metric]) + margin


def clip_model_id(name: str) -> str:
    """The CLIP model a ranker belongs to, as stable across machines as it can be: a hub id's or a local dir's
    last part (``ai-forever/ruclip-vit-base-patch32-384`` → ``ruclip-vit-base-patch32-384``)."""
    return str(name).rstrip("/").rsplit("/", 1)[-1]


# --- versions on disk ------------------------------------------------------------------------------------------


def versions(directory: Path) -> list[int]:
    """The ranker versions saved under ``directory``, oldest first (a half-written one is not there yet)."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = (_VERSION_DIR.match(name) for name in names)
    return sorted(int(match.group(1)) for match in found if match)


def version_dir(directory: Path, version: int) -> Path:
    """Where version ``version`` lives: ``<directory>/ranker-v<version>``."""
    return Path(directory) / f"{VERSION_PREFIX}{version}"


def save(directory: Path, model: RankerNet, report: dict[str, Any], clip_model: str) -> Path:
    """Write ``model`` and its report as the next version under ``directory`` (written aside, then renamed into
    place: a worker never sees half of one); returns its dir."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    version = max(versions(directory), default=0) + 1
    info = {
        **report,
        "version": version,
        "name": f"{VERSION_PREFIX}{version}",
        "clip_model": clip_model_id(clip_model),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    staging = Path(tempfile.mkdtemp(prefix=".ranker-", dir=directory))
    try:
        tensors = {name: value.detach().contiguous() for name, value in model.state_dict().items()}
        save_file(tensors, staging / MODEL_FILE, metadata={"dims": str(model.dims), "hidden": str(model.hidden)})
        (staging / METRICS_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        target = version_dir(directory, version)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


@dataclass(frozen=True)
class LoadedRanker:
    """A saved ranker, ready to score: its net and its metrics.json."""

    net: RankerNet
    info: dict[str, Any]

    @property
    def name(self) -> str:
        """``ranker-v<N>``."""
        return str(self.info.get("name", "ranker"))

    @property
    def dims(self) -> int:
        """The embedding size it reads."""
        return self.net.dims

    def score(self, prompt: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Scores (N,) of ``images`` (N, D) for ``prompt`` (D,), in cosine's units: higher is better."""
        with torch.inference_mode():
            return self.net(prompt.float().cpu()[None], images.float().cpu()[None])[0]


def load(path: Path) -> LoadedRanker:
    """The ranker saved in ``path`` (a ``ranker-v<N>`` dir)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    with safe_open(str(path / MODEL_FILE), framework="pt") as handle:
        metadata = handle.metadata() or {}
    net = RankerNet(int(metadata["dims"]), int(metadata.get("hidden", 0)))
    net.load_state_dict(load_file(str(path / MODEL_FILE)))
    info = json.loads((path / METRICS_FILE).read_text())
    return LoadedRanker(net.eval(), info)


def load_latest(directory: Path) -> LoadedRanker | None:
    """The newest ranker under ``directory``, or ``None`` when there is none."""
    found = versions(directory)
    return load(version_dir(directory, found[-1])) if found else None
