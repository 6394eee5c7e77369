"""Does Molbert learn its users' taste? Simulated users with a hidden taste train the learned re-ranker.

Each simulated user sends a prompt, gets a 2×2 grid of candidate pictures and presses U on the reddest one (the
largest mean of red over green and blue): a taste that is a function of the picture alone, which cosine to the
prompt does not see. The pictures are drawn here (a random background and a few random ellipses and rectangles,
64×64), embedded by the tiny ruCLIP (`models.tiny`, random weights, 32 dimensions) through the production loader
and ``ZeroShotClassifier.embeddings``, as the worker embeds its candidates; prompts are Russian sentences through
the same text encoder. Ten chats take turns. After N presses (50, 200, 1000 by default) the ranker is trained as
``python -m workers train-ranker`` trains it (`models.ranker.train`, default options), then scored on held-out
grids built from pictures it never saw: nDCG@1 of the learned ranker vs plain cosine vs a random order vs the
oracle (the user's own choice, 1.0 by definition), averaged over a few seeds, and a linear probe of redness fitted
on the held-out pictures themselves (about what any linear ranker could read of this taste in these embeddings).
It also says whether the switch would put the ranker live (held-out nDCG@1 above cosine's by
``MODEL_RANKER_MARGIN``, 0.02).

What it does not drive: the bot itself (no fake Bot API, no U presses through the frontend, no feedback database:
the preferences are made here as the store hands them over; ``bench/learning_bot.py`` drives all of that, on the
pictures of the ``cpu`` preset's tiny twin, and reuses :func:`evaluate`), nor a real ruCLIP's weights (random
tiny ones: what a trained CLIP sees in a picture differs, but the learning step is the same).

    python bench/learning.py [--presses 50 200 1000] [--seeds 3] [--held-out 500] [--hidden 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.preferences import Preference  # noqa: E402
from models.ranker import TrainOptions, beats_cosine, cosine_scores, ranking_metrics, to_grids, train  # noqa: E402

PROMPTS = (
    "кот в космосе",
    "закат над морем",
    "лес зимой",
    "город ночью",
    "портрет собаки",
    "чашка кофе на столе",
    "горы в тумане",
    "поле подсолнухов",
    "старый маяк",
    "робот читает книгу",
    "букет цветов",
    "дракон над замком",
)
SIZE = 64
CHATS = 10
GRID = 4


def picture(rng: random.Random) -> Image.Image:
    """A random background with three to six random ellipses and rectangles."""
    image = Image.new("RGB", (SIZE, SIZE), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 6)):
        x0, y0 = rng.randrange(SIZE - 8), rng.randrange(SIZE - 8)
        box = (x0, y0, rng.randint(x0 + 8, SIZE), rng.randint(y0 + 8, SIZE))
        color = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=color)
    return image


def redness(image: Image.Image) -> float:
    """The hidden taste: how much red beats green and blue, on average over the picture."""
    pixels = np.asarray(image, dtype=np.float32)
    return float((pixels[..., 0] - (pixels[..., 1] + pixels[..., 2]) / 2).mean())


def embed_pool(classifier, count: int, seed: int, batch: int = 64) -> tuple[torch.Tensor, list[float]]:
    """``count`` pictures' image embeddings (N, D) and their redness."""
    rng = random.Random(seed)
    images = [picture(rng) for _ in range(count)]
    embeddings = []
    for start in range(0, count, batch):
        _prompt, pictures = classifier.embeddings(images[start : start + batch], PROMPTS[0])
        embeddings.append(pictures.float().cpu())
    return torch.cat(embeddings), [redness(image) for image in images]


def embed_prompts(classifier) -> torch.Tensor:
    """Each prompt's text embedding (P, D)."""
    dummy = [Image.new("RGB", (SIZE, SIZE))]
    return torch.stack([classifier.embeddings(dummy, prompt)[0].float().cpu() for prompt in PROMPTS])


def grids(count: int, pool: tuple[torch.Tensor, list[float]], prompts: torch.Tensor, seed: int) -> list[Preference]:
    """``count`` presses: a random prompt, four random pictures of ``pool``, the reddest chosen; one a minute."""
    embeddings, reds = pool
    rng = random.Random(seed)
    made = []
    for index in range(count):
        cells = rng.sample(range(len(reds)), GRID)
        prompt = prompts[rng.randrange(len(prompts))]
        chosen = max(range(GRID), key=lambda cell: reds[cells[cell]])
        images = tuple(tuple(embeddings[cell].tolist()) for cell in cells)
        made.append(Preference(tuple(prompt.tolist()), images, chosen, f"chat{index % CHATS}", 60.0 * index))
    return made


def probe(pool: tuple[torch.Tensor, list[float]]) -> torch.Tensor:
    """Least squares of redness on the image embedding (with a bias), fitted on ``pool`` itself: about the best any
    linear ranker could read of the taste from these embeddings (a ceiling, not a fair competitor)."""
    embeddings, reds = pool
    inputs = torch.cat([embeddings, torch.ones(len(reds), 1)], dim=1).double()
    return torch.linalg.lstsq(inputs, torch.tensor(reds, dtype=torch.float64)[:, None]).solution[:-1, 0].float()


def evaluate(model, held_out: list[Preference], ceiling: torch.Tensor) -> dict[str, float]:
    """nDCG@1 on ``held_out`` of the learned ranker (cosine when none was trained), cosine, random, the linear
    probe and the oracle."""
    data = to_grids(held_out, cap=float("inf"))
    cosine = cosine_scores(data)
    with torch.no_grad():
        learned = cosine if model is None else model(data.prompts, data.images)
    flat = torch.zeros_like(cosine)  # every candidate tied: the expected nDCG of a random order
    oracle = torch.nn.functional.one_hot(data.chosen, cosine.shape[1]).float()
    linear = data.images @ ceiling
    figures = {}
    named = (("learned", learned), ("cosine", cosine), ("random", flat), ("probe", linear), ("oracle", oracle))
    for name, scores in named:
        figures[name] = ranking_metrics(scores, data.chosen, data.mask, data.weights)["ndcg@1"]
    return figures


def commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=500)
    parser.add_argument("--pool", type=int, default=800, help="pictures to draw grids from (and as many held out)")
    parser.add_argument("--hidden", type=int, default=0, help="the ranker's MLP width (0: linear, the default)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    from models.presets import load_models

    cache = Path(tempfile.mkdtemp(prefix="molbert-learning-"))
    started = time.perf_counter()
    classifier = load_models("tiny", cache, device="cpu").classifier
    prompts = embed_prompts(classifier)
    train_pool, test_pool = embed_pool(classifier, args.pool, 1), embed_pool(classifier, args.pool, 2)
    ceiling = probe(test_pool)
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, commit {commit()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; embeddings ready in "
        f"{time.perf_counter() - started:.0f} s"
    )
    print("| presses | learned nDCG@1 | cosine | random | linear probe | oracle | live (of seeds) | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for presses in args.presses:
        rows, live, seconds = [], 0, []
        for seed in range(args.seeds):
            history = grids(presses, train_pool, prompts, 100 + seed)
            clock = time.perf_counter()
            training = train(history, TrainOptions(hidden=args.hidden))
            seconds.append(time.perf_counter() - clock)
            live += training.model is not None and beats_cosine(training.report, 0.02)
            rows.append(evaluate(training.model, grids(args.held_out, test_pool, prompts, 900 + seed), ceiling))

        def cell(name: str, rows: list[dict[str, float]] = rows) -> str:
            values = [row[name] for row in rows]
            spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
            return f"{statistics.mean(values):.2f}{spread}"

        print(
            f"| {presses} | {cell('learned')} | {cell('cosine')} | {cell('random')} | {cell('probe')} "
            f"| {cell('oracle')} | {live}/{args.seeds} | {statistics.median(seconds):.1f} |"
        )


if __name__ == "__main__":
    main()
