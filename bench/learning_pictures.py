"""Which tiny generator's pictures carry a taste the learned re-ranker can learn? The cheap check before
``bench/learning_bot.py`` drives the bot with one.

For each candidate (the tiny preset's own generator, the ``cpu`` preset's tiny twin — SD-Turbo with the TAESD
decoder — and the two crossings), loaded through ``ImageGenerator.from_pretrained`` as a worker loads it, paints
grids of four for random Russian prompts and embeds them with the tiny ruCLIP as the worker embeds its candidates.
Per grid: how much redder (``bench.learning.redness``, of 255) the reddest cell is than the second. Then nDCG@1 on
held-out grids of cosine, of the ranker trained on the first 50 and 200 grids' presses (``models.ranker.train``,
as ``python -m workers train-ranker``) and of a linear probe of redness on the embeddings, fitted once on the
training grids (a fair linear ranker) and once on the held-out pictures themselves (the ceiling ``learning.py``
reports). No bot: the presses are made here, as the store hands them over.

    python bench/learning_pictures.py [--grids 200] [--held-out 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.learning import CHATS, PROMPTS, commit, evaluate, probe, redness  # noqa: E402
from core.preferences import Preference  # noqa: E402
from models.ranker import TrainOptions, train  # noqa: E402


def candidates(root: Path) -> dict[str, tuple[str, str | None]]:
    """Each candidate's name → (pipeline dir, AutoencoderTiny dir replacing its VAE or None), built under ``root``."""
    from models import tiny, tiny_families

    generator = str(tiny.build_tiny_generator(root / "tiny"))
    turbo = str(tiny_families.build_tiny_sd_turbo(root / "sd-turbo"))
    taesd = str(tiny_families.build_tiny_taesd(root / "taesd"))
    return {
        "tiny preset (AutoencoderKL)": (generator, None),
        "tiny preset + TAESD": (generator, taesd),
        "tiny SD-Turbo (AutoencoderKL)": (turbo, None),
        "tiny SD-Turbo + TAESD (cpu twin)": (turbo, taesd),
    }


def painted(model: str, decoder: str | None, classifier, count: int, seed: int) -> tuple[list[Preference], list]:
    """``count`` grids of four painted by ``model`` (one a minute, ten chats), each pressed on its reddest cell;
    and each grid's cells' redness."""
    from models.generator import ImageGenerator

    generator = ImageGenerator.from_pretrained(model, device="cpu", decoder=decoder)
    rng, made, reds = random.Random(seed), [], []
    for index in range(count):
        prompt = rng.choice(PROMPTS)
        images = generator.generate(prompt, seed=rng.randrange(2**31), num_images=4)
        text, pictures = classifier.embeddings(images, prompt)
        reds.append([redness(image) for image in images])
        chosen = max(range(4), key=reds[-1].__getitem__)
        cells = tuple(tuple(picture.float().tolist()) for picture in pictures)
        made.append(Preference(tuple(text.float().tolist()), cells, chosen, f"chat{index % CHATS}", 60.0 * index))
    return made, reds


def pool(grids: list[Preference], reds: list[list[float]]) -> tuple[torch.Tensor, list[float]]:
    """The grids' pictures as ``bench.learning.probe`` takes them: embeddings (N, D) and redness."""
    return torch.tensor([image for grid in grids for image in grid.image_embeddings]), [r for g in reds for r in g]


def row(name: str, model: str, decoder: str | None, classifier, args: argparse.Namespace) -> str:
    """One candidate's table row."""
    started = time.perf_counter()
    history, history_reds = painted(model, decoder, classifier, args.grids, 1)
    held_out, held_out_reds = painted(model, decoder, classifier, args.held_out, 2)
    per_picture = (time.perf_counter() - started) / (4 * (args.grids + args.held_out))
    gaps = [sorted(r)[-1] - sorted(r)[-2] for r in history_reds + held_out_reds]
    linear = probe(pool(history, history_reds))
    fair = evaluate(None, held_out, linear)
    figures = [evaluate(train(history[:n], TrainOptions()).model, held_out, linear) for n in (50, 200)]
    ceiling = evaluate(None, held_out, probe(pool(held_out, held_out_reds)))
    return (
        f"| {name} | {statistics.median(gaps):.2f} | {fair['cosine']:.2f} | {figures[0]['learned']:.2f} | "
        f"{figures[1]['learned']:.2f} | {fair['probe']:.2f} | {ceiling['probe']:.2f} | {per_picture * 1000:.0f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=200, help="training grids (presses); at least 200")
    parser.add_argument("--held-out", type=int, default=200)
    args = parser.parse_args()
    from models.presets import load_models

    root = Path(tempfile.mkdtemp(prefix="molbert-learning-pictures-"))
    torch.set_num_threads(1)
    classifier = load_models("tiny", root / "cache", device="cpu").classifier
    print(f"# commit {commit()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, one torch thread")
    print("| generator | reddest − second (median) | cosine | learned, 50 | learned, 200 | probe (train)", end="")
    print(" | probe (held out) | a picture |\n|---|---|---|---|---|---|---|---|")
    for name, (model, decoder) in candidates(root).items():
        print(row(name, model, decoder, classifier, args), flush=True)


if __name__ == "__main__":
    main()
