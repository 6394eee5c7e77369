"""Few-shot chat classes (``/teach``): accuracy of taught classes vs zero-shot labels at 1, 3, 5 and 10 shots.

Synthetic classes: six generated patterns (horizontal stripes, vertical stripes, a checkerboard, a disc, a
diagonal gradient, scattered dots), each photo with its own random colours, phase and scale, so that no two photos
of a class are alike. For each shot count and trial, every class is taught from ``n`` photos through the
production path (``ZeroShotClassifier.prototype``, the worker's ``teach``), then held-out photos are scored with
``classify_batch`` exactly as the worker scores a chat's photo:

- **zero-shot**: the class names as labels (``/labels`` of the chat), nothing taught;
- **taught**: every class taught (a taught class replaces the label of its name), the same labels;
- **steal rate**: only half of the classes taught, photos of the *other* half scored against all six names: how
  often a taught class wins a photo it was not taught on (0 is right; what a modality gap between the image and
  the text embeddings does to the one softmax).

The model: the tiny random ruCLIP of the test suite (``--model tiny``, default) or a real-size ruCLIP ViT-B/32-384
with random weights (``--model ruclip``, built as ``bench/gpu_check.py`` builds it from ``bench/configs/ruclip``).
Random weights know no Russian and no objects: zero-shot is chance here by construction, and the taught accuracy
says only whether the prototype recipe separates what the image encoder separates — not what a trained ruCLIP
would reach on real photos.

    python bench/fewshot.py [--model tiny|ruclip] [--trials 3] [--test-photos 5]
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.classifier import ZeroShotClassifier  # noqa: E402

SHOTS = (1, 3, 5, 10)
ALPHAS, BETAS = (0.1, 0.3, 0.5, 1.0), (5.5, 10.0, 20.0, 30.0, 40.0)  # --sweep's grid
SIZE = 128


PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {}  # class palettes, when --palette class
JITTER = 40  # how far a photo's colours stray from its class's palette, per channel


def _colors(rng: random.Random) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A photo's (ink, paper): random, or (``--palette class``) its class's palette, jittered."""

    def color() -> tuple[int, int, int]:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256))

    palette = PALETTES.get(_drawing)
    if palette is None:
        return color(), color()

    def jittered(base: tuple[int, int, int]) -> tuple[int, int, int]:
        return tuple(min(255, max(0, c + rng.randrange(-JITTER, JITTER + 1))) for c in base)  # type: ignore[return-value]

    return jittered(palette[0]), jittered(palette[1])


_drawing = ""  # the class whose photo is being drawn (its palette)


def stripes(rng: random.Random, vertical: bool) -> Image.Image:
    ink, paper = _colors(rng)
    period, phase = rng.randrange(10, 30), rng.randrange(30)
    pixels = np.zeros((SIZE, SIZE, 3), np.uint8)
    axis = np.arange(SIZE)
    on = ((axis + phase) // (period // 2)) % 2 == 0
    pixels[:] = paper
    if vertical:
        pixels[:, on] = ink
    else:
        pixels[on, :] = ink
    return Image.fromarray(pixels)


def checkerboard(rng: random.Random) -> Image.Image:
    ink, paper = _colors(rng)
    cell = rng.randrange(8, 24)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    on = ((x // cell) + (y // cell)) % 2 == 0
    pixels = np.where(on[..., None], np.array(ink, np.uint8), np.array(paper, np.uint8))
    return Image.fromarray(pixels.astype(np.uint8))


def disc(rng: random.Random) -> Image.Image:
    ink, paper = _colors(rng)
    image = Image.new("RGB", (SIZE, SIZE), paper)
    radius = rng.randrange(20, 50)
    cx, cy = rng.randrange(radius, SIZE - radius), rng.randrange(radius, SIZE - radius)
    ImageDraw.Draw(image).ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=ink)
    return image


def gradient(rng: random.Random) -> Image.Image:
    start, end = (np.array(c, np.float32) for c in _colors(rng))
    angle = rng.uniform(0, math.pi / 2)
    y, x = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
    t = (x * math.cos(angle) + y * math.sin(angle)) / (math.cos(angle) + math.sin(angle))
    return Image.fromarray((start + (end - start) * t[..., None]).astype(np.uint8))


def dots(rng: random.Random) -> Image.Image:
    ink, paper = _colors(rng)
    image = Image.new("RGB", (SIZE, SIZE), paper)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(15, 40)):
        r = rng.randrange(2, 6)
        x, y = rng.randrange(SIZE), rng.randrange(SIZE)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    return image


CLASSES: dict[str, Callable[[random.Random], Image.Image]] = {
    "горизонтальные полосы": lambda rng: stripes(rng, vertical=False),
    "вертикальные полосы": lambda rng: stripes(rng, vertical=True),
    "шахматная доска": checkerboard,
    "круг": disc,
    "градиент": gradient,
    "точки": dots,
}


def draw(name: str, rng: random.Random) -> Image.Image:
    """One photo of class ``name``."""
    global _drawing
    _drawing = name
    return CLASSES[name](rng)


def class_palettes(seed: int = 7) -> None:
    """Give each class its own (ink, paper) palette: a random encoder sees colours far more than shapes."""
    rng = random.Random(seed)
    for name in CLASSES:
        PALETTES[name] = _colors(rng)


def load(model: str, workdir: Path) -> ZeroShotClassifier:
    """The classifier through the production loader: the tiny preset's, or a random real-size ruCLIP."""
    if model == "tiny":
        from models.tiny import build_tiny_classifier

        return ZeroShotClassifier.from_pretrained(str(build_tiny_classifier(workdir / "tiny-classifier")))
    sys.path.insert(0, str(REPO / "bench"))
    import json

    from gpu_check import CONFIGS, build_ruclip  # type: ignore[import-not-found]

    config = json.loads((CONFIGS / "ruclip" / "config.json").read_text(encoding="utf-8"))
    target = workdir / "ruclip-random"
    build_ruclip(config, CONFIGS / "ruclip" / "bpe.model", target, "cpu")
    return ZeroShotClassifier.from_pretrained(str(target), conversion_dir=workdir / "conversions")


def accuracy(classifier: ZeroShotClassifier, photos, truths, labels, taught) -> float:
    """Share of ``photos`` whose best label or class is its truth."""
    results = classifier.classify_batch(photos, [labels] * len(photos), [taught] * len(photos))
    return sum(
        result[0][0].casefold() == truth.casefold() for result, truth in zip(results, truths, strict=True)
    ) / len(photos)


def trial(classifier: ZeroShotClassifier, shots: int, seed: int, test_per_class: int) -> tuple[float, ...]:
    """(zero-shot accuracy, taught accuracy, zero-shot "steal" rate, steal rate) of one draw of photos."""
    names = list(CLASSES)
    held_out, teaching = random.Random(seed), random.Random(1000 * shots + seed)  # every shot count, same test photos
    test = [(name, draw(name, held_out)) for name in names for _ in range(test_per_class)]
    train = {name: [draw(name, teaching) for _ in range(shots)] for name in names}
    photos, truths = [photo for _name, photo in test], [name for name, _photo in test]
    taught = [(name, classifier.prototype(train[name], name)) for name in names]
    zero_shot = accuracy(classifier, photos, truths, names, [])
    with_taught = accuracy(classifier, photos, truths, names, taught)
    half = set(names[::2])
    untaught = [photo for photo, truth in zip(photos, truths, strict=True) if truth not in half]
    half_taught = [pair for pair in taught if pair[0] in half]
    confused = classifier.classify_batch(untaught, [names] * len(untaught))
    results = classifier.classify_batch(untaught, [names] * len(untaught), [half_taught] * len(untaught))
    baseline = sum(result[0][0] in half for result in confused) / len(untaught)
    stolen = sum(result[0][0] in half for result in results) / len(untaught)
    return zero_shot, with_taught, baseline, stolen


def remember_images(classifier: ZeroShotClassifier) -> None:
    """Encode each distinct photo once (a sweep scores the same photos many times)."""
    encode, known = classifier._image_embeddings, {}

    def cached(images):
        keys = [image.tobytes() for image in images]
        missing = [image for image, key in zip(images, keys, strict=True) if key not in known]
        if missing:
            known.update(zip([image.tobytes() for image in missing], encode(missing), strict=True))
        return torch.stack([known[key] for key in keys])

    classifier._image_embeddings = cached


def sweep(classifier: ZeroShotClassifier, args: argparse.Namespace) -> None:
    """Taught accuracy and steal rate over a grid of α, β (``--sweep``): how the constants were chosen."""
    import models.classifier as scoring

    remember_images(classifier)
    print("| α | β | shots | taught classes | zero-shot steal | steal rate |")
    print("|---:|---:|---:|---:|---:|---:|")
    for alpha in ALPHAS:
        for beta in BETAS:
            scoring.FEW_SHOT_AFFINITY, scoring.FEW_SHOT_SHARPNESS = alpha, beta
            for shots in (1, 3, 10):
                runs = [trial(classifier, shots, seed, args.test_photos) for seed in range(args.trials)]
                _zero, taught, baseline, stolen = (sum(values) / len(values) for values in zip(*runs, strict=True))
                print(f"| {alpha} | {beta} | {shots} | {taught:.0%} | {baseline:.0%} | {stolen:.0%} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("tiny", "ruclip"), default="tiny")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--test-photos", type=int, default=5, help="held-out photos per class")
    parser.add_argument(
        "--palette",
        choices=("class", "random"),
        default="class",
        help="class: each class draws its colours near a palette of its own (default); random: any colours",
    )
    parser.add_argument("--sweep", action="store_true", help="try a grid of α, β instead (how they were chosen)")
    args = parser.parse_args()
    if args.palette == "class":
        class_palettes()
    with tempfile.TemporaryDirectory() as workdir:
        classifier = load(args.model, Path(workdir))
        if args.sweep:
            sweep(classifier, args)
            return
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        name = classifier.name.rsplit("/", 1)[-1]
        print(f"# few-shot: {args.model} ({name}), {len(CLASSES)} classes ({args.palette} palette), ", end="")
        print(f"{args.test_photos} held-out photos per class, {args.trials} trials")
        machine = platform.processor() or platform.machine()
        print(f"# {datetime.date.today()} · commit {commit.stdout.strip()} · {machine}", end="")
        print(f" · {os.cpu_count()} CPUs (shared, noisy)")
        print("| shots | zero-shot labels | taught classes | zero-shot steal | steal rate | s/trial |")
        print("|---:|---:|---:|---:|---:|---:|")
        for shots in SHOTS:
            started = time.perf_counter()
            runs = [trial(classifier, shots, seed, args.test_photos) for seed in range(args.trials)]
            seconds = (time.perf_counter() - started) / args.trials
            zero, taught, baseline, stolen = (sum(values) / len(values) for values in zip(*runs, strict=True))
            row = f"| {shots} | {zero:.0%} | {taught:.0%} | {baseline:.0%} | {stolen:.0%} | {seconds:.1f} |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
