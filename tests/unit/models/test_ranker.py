"""The learned re-ranker (models/ranker.py) on synthetic preferences whose hidden taste is known."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from core.preferences import Preference
from models import ranker
from models.ranker import TrainOptions, beats_cosine, ranking_metrics, to_grids, train
from tests.preferences import preferences


def held_out(training: ranker.Training) -> tuple[dict, dict]:
    figures = training.report["held_out"]
    return figures["ranker"], figures["cosine"]


def fresh_metrics(model: ranker.RankerNet, grids: list[Preference]) -> tuple[dict, dict]:
    """The learned ranker's and cosine's figures on grids it never saw."""
    data = to_grids(grids, cap=math.inf)
    with torch.no_grad():
        learned = ranking_metrics(model(data.prompts, data.images), data.chosen, data.mask, data.weights)
    return learned, ranking_metrics(ranker.cosine_scores(data), data.chosen, data.mask, data.weights)


def test_a_taste_cosine_cannot_see_is_learned():
    """Users pick the candidate furthest along a fixed direction of the image embedding: cosine to the prompt is
    blind to it (about 1 in 4 at nDCG@1), the ranker learns it."""
    training = train(preferences(500))
    learned, cosine = held_out(training)
    assert training.model is not None
    assert learned["ndcg@1"] > cosine["ndcg@1"] + 0.3, (learned, cosine)
    assert learned["pairwise_accuracy"] > 0.85
    assert beats_cosine(training.report, margin=0.02)
    assert training.report["held_out_grids"] == 100  # the latest 20 %


def test_when_the_taste_is_cosine_cosine_stays():
    training = train(preferences(300, taste="cosine"))
    _learned, cosine = held_out(training)
    assert cosine["ndcg@1"] == 1.0
    assert not beats_cosine(training.report, margin=0.02)


def test_scarce_data_train_no_model():
    training = train(preferences(20))
    assert training.model is None
    assert "at least 30" in training.report["skipped"]


def test_rerolls_give_no_pairs():
    """A 🔄 (no winner) says none was liked, which orders nothing: counted, not learned from."""
    rejected = [dataclasses.replace(p, chosen=None) for p in preferences(100)]
    training = train(rejected)
    assert training.model is None
    assert (training.report["preferences"], training.report["usable"]) == (100, 0)


def test_after_a_change_of_clip_model_the_new_embeddings_are_learned_from():
    """Choices stored under an older CLIP model (another embedding size) are left out, whatever their number."""
    old = preferences(200, seed=5)
    new = preferences(100, seed=6, start=1000.0)
    widened = [
        dataclasses.replace(
            p, prompt_embedding=p.prompt_embedding * 2, image_embeddings=tuple(i * 2 for i in p.image_embeddings)
        )
        for p in old
    ]
    assert ranker.usable(widened + new) == new


def test_one_chat_spamming_an_opposite_taste_does_not_flip_the_others():
    """Twenty chats press 25 times each for one taste; one chat presses 3000 times for the opposite one, all along
    the same weeks. With each chat capped, the ranker keeps the many chats' taste; uncapped, the spam wins."""
    honest = preferences(500, chats=20, seed=1, step=6.0)
    spam = preferences(3000, sign=-1.0, chats=1, chat_prefix="spammer", seed=2, step=1.0)
    unseen = preferences(400, chats=20, seed=3)
    capped = train(honest + spam)
    learned, cosine = fresh_metrics(capped.model, unseen)
    assert learned["ndcg@1"] > cosine["ndcg@1"] + 0.25, (learned, cosine)
    uncapped = train(honest + spam, TrainOptions(chat_cap=math.inf))
    flipped, _ = fresh_metrics(uncapped.model, unseen)
    assert flipped["ndcg@1"] < cosine["ndcg@1"], flipped


def test_training_is_deterministic_for_a_seed():
    data = preferences(200)
    first, second = train(data, TrainOptions(seed=7)), train(data, TrainOptions(seed=7))
    assert first.report == second.report
    for name, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[name])


def test_metrics_of_a_hand_made_grid():
    """The winner second of four: nDCG@1 0, nDCG@4 1/log2(3), two of three pairs right; a tie at the top is half."""
    scores = torch.tensor([[0.9, 0.5, 0.1, 0.0], [0.5, 0.5, 0.1, 0.0]])
    chosen, mask, weights = torch.tensor([1, 1]), torch.ones(2, 4, dtype=torch.bool), torch.tensor([1.0, 0.0])
    figures = ranking_metrics(scores, chosen, mask, weights)
    assert figures == {"pairwise_accuracy": pytest.approx(0.6667), "ndcg@1": 0.0, "ndcg@4": pytest.approx(0.6309)}
    tie = ranking_metrics(scores, chosen, mask, torch.tensor([0.0, 1.0]))
    assert tie["ndcg@1"] == 0.5
    assert tie["pairwise_accuracy"] == pytest.approx((2 + 0.5) / 3, abs=1e-4)


def test_lambdarank_weights_each_pair_by_the_ndcg_its_swap_changes():
    """The winner ranked second of four: each loser's gradient is RankNet's, σ·sigmoid(−σ(s_win − s_loser)), times
    |ΔnDCG| of swapping the two places (first ↔ second moves the winner to the top: the largest weight)."""
    values = [0.31, 0.30, 0.25, 0.0]
    scores = torch.tensor([values], requires_grad=True)
    mask, weights = torch.ones(1, 4, dtype=torch.bool), torch.ones(1)
    ranker.pairwise_loss(scores, torch.tensor([1]), mask, weights).backward()

    def gain(rank: int) -> float:
        return 1 / math.log2(rank + 1)

    sigma = ranker.SIGMA
    for loser, rank in ((0, 1), (2, 3), (3, 4)):
        ranknet = sigma * torch.sigmoid(torch.tensor(-sigma * (values[1] - values[loser])))
        expected = float(ranknet) * abs(gain(2) - gain(rank))
        assert float(scores.grad[0, loser]) == pytest.approx(expected, rel=1e-4)
    assert float(scores.grad[0, 1]) < 0  # the winner is pushed up


def test_save_load_round_trip_and_the_newest_version(tmp_path):
    training = train(preferences(200))
    first = ranker.save(tmp_path, training.model, training.report, "ai-forever/ruclip-vit-base-patch32-384")
    (tmp_path / ".ranker-half-written").mkdir()  # a save cut off: never a version
    ranker.save(tmp_path, training.model, training.report, "x")
    third = ranker.save(tmp_path, training.model, training.report, "x")
    assert (first.name, third.name, ranker.versions(tmp_path)) == ("ranker-v1", "ranker-v3", [1, 2, 3])
    loaded = ranker.load(first)
    assert loaded.info["clip_model"] == "ruclip-vit-base-patch32-384"
    assert loaded.info["held_out"] == training.report["held_out"]
    prompt, images = torch.randn(16), torch.nn.functional.normalize(torch.randn(4, 16), dim=-1)
    with torch.no_grad():
        expected = training.model(prompt[None], images[None])[0]
    assert torch.allclose(loaded.score(prompt, images), expected)
    assert ranker.load_latest(tmp_path).name == "ranker-v3"
    assert ranker.load_latest(tmp_path / "nothing") is None
