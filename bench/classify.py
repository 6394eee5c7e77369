"""Classification benchmark: a real-size ruCLIP ViT-B/32-384 (random weights) on this machine's CPU.

Builds the architecture of ``ai-forever/ruclip-vit-base-patch32-384`` through `models.ruclip` (ruCLIP config →
``CLIPModel``; vision 768 wide × 12 layers, patch 32, 384 px; text 512 wide × 12 layers, context 77, vocab 49408)
with random weights, and a YouTokenToMe BPE learned here on the templated default labels (so prompts are a few
tokens per word, like ruCLIP's real 49k-token BPE, not one token per letter). Measures, with medians of several
runs (the variants compared in a table run in turn, round after round, so a slow spell hits them alike):

- photos/second when 1, 8 and 32 photos wait together, scored one by one (``classify``) vs in micro-batches
  of ``--batch-size`` (``classify_batch``, what the worker does with ``WORKER_BATCH_SIZE``): all with the
  default label set already seen (its text embeddings cached), and each photo with its own three new labels, as
  a caption gives (the text encoder runs for them: per photo unbatched, once per micro-batch batched);
- one photo's cost with a seen label set vs the image encoder alone, and with a yes/no question (one new label
  scored against the seen default set);
- the ceiling of batching here: the image encoder alone (``get_image_features``), per photo, at batch sizes 1 to
  32 — what any batching could gain on this machine, whatever the worker does around it;
- the default set's text embeddings: first use (text encoder; prompts sorted by length, and as one pass padded
  to the longest prompt, once), cached in memory, persisted on disk (a restarted worker).

The process's malloc is set up as a worker's (``WORKER_MALLOC_KEEP_MB``, `workers.allocator.keep_freed_memory`);
``--glibc-malloc`` leaves glibc's defaults, to show what that setting is worth.

    python bench/classify.py [--runs 3] [--batch-size 8] [--glibc-malloc]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models import classifier as classifier_module  # noqa: E402
from models import ruclip  # noqa: E402
from models.classifier import RU_TEMPLATES, ZeroShotClassifier  # noqa: E402
from models.embedding_store import model_fingerprint  # noqa: E402
from models.labels import default_labels  # noqa: E402
from workers.allocator import keep_freed_memory  # noqa: E402
from workers.config import WorkerSettings  # noqa: E402

# ruCLIP's config.json for ai-forever/ruclip-vit-base-patch32-384.
RUCLIP_B32_384 = {
    "embed_dim": 512,
    "image_resolution": 384,
    "vision_layers": 12,
    "vision_width": 768,
    "vision_patch_size": 32,
    "context_length": 77,
    "vocab_size": 49408,
    "transformer_width": 512,
    "transformer_heads": 8,
    "transformer_layers": 12,
}
NAME = "bench/ruclip-vit-base-patch32-384-random"
CONCURRENCY = (1, 8, 32)
CAPTION_LABELS = 3  # "кошка, собака, медведь"
ENCODER_BATCHES = (1, 2, 4, 8, 16, 32)


def learn_yttm(corpus: list[str], merges: int) -> ruclip.YttmModel:
    """A YTTM model (ids 0-3 special, then characters, then merged tokens) learned greedily on ``corpus``."""
    words = Counter(word for text in corpus for word in ruclip.split_words(text.lower()))
    chars = sorted({char for word in words for char in word} | {ruclip.SPACE_TOKEN})
    char2id = {char: 4 + index for index, char in enumerate(chars)}
    space = char2id[ruclip.SPACE_TOKEN]
    pieces = {word: [space, *(char2id[c] for c in word)] for word in words}
    rules: list[tuple[int, int, int]] = []
    next_id = 4 + len(chars)
    for _ in range(merges):
        pairs: Counter[tuple[int, int]] = Counter()
        for word, symbols in pieces.items():
            for pair in itertools.pairwise(symbols):
                pairs[pair] += words[word]
        if not pairs:
            break
        (x, y), _count = pairs.most_common(1)[0]
        rules.append((x, y, next_id))
        for word, symbols in pieces.items():
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == x and symbols[i + 1] == y:
                    merged.append(next_id)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            pieces[word] = merged
        next_id += 1
    return ruclip.YttmModel(char2id, tuple(rules), unk_id=1, pad_id=0, bos_id=2, eos_id=3)


def build_classifier(embedding_dir: Path) -> ZeroShotClassifier:
    corpus = [template.format(label) for label in default_labels() for template in RU_TEMPLATES]
    bpe = ruclip.YttmBPE(learn_yttm(corpus, merges=1500))
    processor = ruclip.RuClipProcessor(
        ruclip.RuClipTokenizer(bpe, RUCLIP_B32_384["context_length"]),
        ruclip.RuClipImageProcessor(RUCLIP_B32_384["image_resolution"]),
    )
    from transformers import CLIPModel

    torch.manual_seed(0)
    model = CLIPModel(ruclip.clip_config(RUCLIP_B32_384)).float().eval()
    return ZeroShotClassifier(model, processor, NAME, "cpu", embedding_dir=embedding_dir)


def photos(count: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)) for _ in range(count)]


def median_seconds(action: Callable[[], object], runs: int, setup: Callable[[], object] | None = None) -> float:
    """Median wall time of ``action`` over ``runs`` runs (``setup`` before each, not timed)."""
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def interleaved_medians(actions: list[Callable[[], object]], runs: int) -> list[float]:
    """Median wall time of each action over ``runs`` rounds that run every action once, in turn (after one untimed
    round), so that a slow spell of a shared machine hits all of them alike."""
    for action in actions:
        action()
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(runs):
        for action, spent in zip(actions, times, strict=True):
            started = time.perf_counter()
            action()
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) for spent in times]


def fresh_labels(words: list[str]) -> Iterator[str]:
    """Labels never seen before, made of two default labels each (so the BPE knows their words)."""
    rng = np.random.default_rng(7)
    seen: set[str] = set()
    while True:
        first, second = rng.choice(len(words), size=2, replace=False)
        label = f"{words[first]} и {words[second]}"
        if label not in seen:
            seen.add(label)
            yield label


def throughput(
    classifier: ZeroShotClassifier, label_lists: Callable[[int], list[list[str]]], args: argparse.Namespace
) -> list[tuple[int, float, float]]:
    """(photos waiting, unbatched photos/s, batched photos/s) for each of ``CONCURRENCY``: the photos scored one
    by one vs in micro-batches, each photo against its list from ``label_lists`` (asked anew for every run)."""
    rows = []
    for count in CONCURRENCY:
        waiting = photos(count, seed=count)

        def one_by_one(waiting: list[Image.Image] = waiting) -> None:
            for image, image_labels in zip(waiting, label_lists(len(waiting)), strict=True):
                classifier.classify(image, image_labels)

        def batched(waiting: list[Image.Image] = waiting) -> None:
            lists = label_lists(len(waiting))
            for start in range(0, len(waiting), args.batch_size):
                end = start + args.batch_size
                classifier.classify_batch(waiting[start:end], lists[start:end])

        unbatched_s, batched_s = interleaved_medians([one_by_one, batched], max(args.runs, 40 // count))
        rows.append((count, count / unbatched_s, count / batched_s))
    return rows


def print_throughput(title: str, rows: list[tuple[int, float, float]], batch_size: int) -> None:
    print(f"### Throughput ({title}; micro-batches of {batch_size})")
    print("| photos waiting | unbatched photos/s | batched photos/s | batched ÷ unbatched |")
    print("|---:|---:|---:|---:|")
    for count, unbatched_rate, batched_rate in rows:
        print(f"| {count} | {unbatched_rate:.2f} | {batched_rate:.2f} | {batched_rate / unbatched_rate:.2f}× |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (medians)")
    parser.add_argument("--batch-size", type=int, default=8, help="micro-batch size (WORKER_BATCH_SIZE)")
    parser.add_argument("--glibc-malloc", action="store_true", help="keep glibc's malloc defaults (a worker's: not)")
    args = parser.parse_args()
    keep_mb = 0 if args.glibc_malloc else WorkerSettings.model_fields["malloc_keep_mb"].default
    print(f"host malloc: {keep_freed_memory(keep_mb)}")
    torch.set_grad_enabled(False)
    labels = default_labels()
    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        store_dir = Path(tmp) / "text-embeddings"
        started = time.perf_counter()
        classifier = build_classifier(store_dir)
        print(f"built the model in {time.perf_counter() - started:.1f} s; torch threads {torch.get_num_threads()}")

        # The default set's text embeddings: first use (prompts by length; and in one padded pass), memory, disk.
        def forget() -> None:
            for memory in (classifier._pinned, classifier._recent, classifier._preloaded):
                memory.clear()
            for path in store_dir.glob("*/*.pt"):
                path.unlink()

        classifier._encode_labels(tuple(labels[-4:]))  # warm the text encoder up (not a label set measured)
        first_use = median_seconds(lambda: classifier.preload_labels(labels), min(args.runs, 3), setup=forget)
        with mock.patch.multiple(classifier_module, MIN_PASS_PROMPTS=10**9, TEXT_BATCH_PROMPTS=10**9):
            one_pass = median_seconds(lambda: classifier.preload_labels(labels), 1, setup=forget)
        lengths = classifier._tokenize([t.format(label) for label in labels for t in classifier.templates])
        lengths = lengths["attention_mask"].sum(dim=1)
        forget()
        classifier.preload_labels(labels)  # computed and stored
        memory = median_seconds(lambda: classifier._label_embeddings(tuple(labels)), max(args.runs, 20))
        fingerprint = median_seconds(lambda: model_fingerprint(classifier.model, NAME, classifier.processor), args.runs)

        def restarted() -> ZeroShotClassifier:  # a new worker process: same weights, empty memory cache
            return ZeroShotClassifier(classifier.model, classifier.processor, NAME, "cpu", embedding_dir=store_dir)

        disk = median_seconds(lambda: restarted().preload_labels(labels), args.runs)
        assert restarted().preload_labels(labels) == "disk"

        # One photo: seen label set vs the image encoder alone.
        (photo,) = photos(1, seed=1)
        pixels = classifier.processor.image_processor(images=[photo])["pixel_values"]
        new_labels = fresh_labels(labels)
        encoder, preprocess, seen, question = interleaved_medians(
            [
                lambda: classifier.model.get_image_features(pixel_values=pixels),
                lambda: classifier.processor.image_processor(images=[photo]),
                lambda: classifier.classify(photo, labels),
                # a yes/no question: one new label scored against the default set (as the worker does)
                lambda: classifier.classify(photo, [next(new_labels), *labels]),
            ],
            2 * args.runs + 1,
        )

        # The ceiling: the encoder alone per photo at growing batch sizes.
        batches = [
            classifier.processor.image_processor(images=photos(size, seed=size))["pixel_values"]
            for size in ENCODER_BATCHES
        ]
        encoder_passes = [
            lambda batch=batch: classifier.model.get_image_features(pixel_values=batch) for batch in batches
        ]
        seconds = interleaved_medians(encoder_passes, max(args.runs, 5))
        ceiling = [(size, spent / size) for size, spent in zip(ENCODER_BATCHES, seconds, strict=True)]

        # Throughput: N photos waiting together, with the default set and with captions' own new labels.
        default_rows = throughput(classifier, lambda count: [labels] * count, args)
        caption_rows = throughput(
            classifier, lambda count: [[next(new_labels) for _ in range(CAPTION_LABELS)] for _ in range(count)], args
        )

    print()
    print_throughput(f"default set, {len(labels)} labels seen", default_rows, args.batch_size)
    caption = f"every photo its own {CAPTION_LABELS} new labels, as from a caption"
    print_throughput(caption, caption_rows, args.batch_size)
    print("### The ceiling: image encoder alone, per photo, by batch size")
    print("| batch | ms per photo | speed-up over batch 1 |")
    print("|---:|---:|---:|")
    for size, per_photo in ceiling:
        print(f"| {size} | {per_photo * 1000:.0f} | {ceiling[0][1] / per_photo:.2f}× |")
    print()
    print("### One photo, label set already seen")
    print("| what | median |")
    print("|---|---:|")
    print(f"| image encoder alone (get_image_features, 1 photo) | {encoder * 1000:.0f} ms |")
    print(f"| preprocessing (crop, resize, normalise) | {preprocess * 1000:.1f} ms |")
    print(f"| classify (preprocess + encoder + {len(labels)} labels scored) | {seen * 1000:.0f} ms |")
    print(f"| classify ÷ image encoder | {seen / encoder:.2f}× |")
    print(f"| a yes/no question: classify with 1 new label + the {len(labels)} seen | {question * 1000:.0f} ms |")
    print()
    print(f"### The default set's text embeddings ({len(labels)} labels × {len(classifier.templates)} templates)")
    print(
        f"Prompts are {int(lengths.min())}–{int(lengths.max())} tokens, {float(lengths.float().mean()):.1f} on average."
    )
    print("| what | median |")
    print("|---|---:|")
    per_label = first_use / len(labels) * 1000
    print(f"| first use (text encoder, prompts by length) | {first_use:.1f} s ({per_label:.0f} ms/label) |")
    print(f"| first use in one pass, padded to the longest prompt (1 run) | {one_pass:.1f} s |")
    print(f"| cached in memory | {memory * 1e6:.1f} µs |")
    print(f"| weights fingerprint (once per process) | {fingerprint:.2f} s |")
    print(f"| persisted, new process (fingerprint + file) | {disk:.2f} s |")
    print(f"\n(runs: {args.runs}; cpu count {os.cpu_count()})")


if __name__ == "__main__":
    main()
