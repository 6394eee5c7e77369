"""/describe benchmark: the interrogator (`models.interrogator`) on a real-size ruCLIP ViT-B/32-384 with random
weights, on this machine's CPU (or ``--device cuda``).

The model is built as in ``bench/classify.py`` (ruCLIP config → ``CLIPModel``, random weights, float32), with a
YouTokenToMe BPE learned here on the phrase bank and the templated default labels (a few tokens per word, like
ruCLIP's real 49k BPE). Measures, as medians:

- the phrase bank's text embeddings (1723 phrases as typed): first use (the text encoder, then stored on disk),
  read back by a restarted worker (weights fingerprint + file), and in memory;
- a /describe with the bank ready: the whole ``Interrogator.describe``, and its parts (the image encoder, and the
  greedy chain: 1 + 8 text-encoder passes of up to 6 prompts each);
- so a worker's very first /describe costs first use + one describe; every later one, one describe.

Random weights change what is picked, not what is computed: the chain always tries the same number of prompts.

    python bench/describe.py [--runs 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models import ruclip  # noqa: E402
from models.classifier import RU_TEMPLATES, ZeroShotClassifier  # noqa: E402
from models.interrogator import Interrogator  # noqa: E402
from models.labels import default_labels  # noqa: E402
from models.phrases import phrase_bank  # noqa: E402


def _classify_bench():
    """bench/classify.py as a module (its ruCLIP config, BPE learner and photos)."""
    spec = importlib.util.spec_from_file_location("bench_classify", REPO / "bench" / "classify.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _classify_bench()
NAME = "bench/ruclip-vit-base-patch32-384-random"


def build_model(device: str) -> tuple[torch.nn.Module, ruclip.RuClipProcessor]:
    """The random real-size ruCLIP and a processor whose BPE knows the bank's and the labels' words."""
    corpus = [*phrase_bank().phrases] + [
        template.format(label) for label in default_labels() for template in RU_TEMPLATES
    ]
    bpe = ruclip.YttmBPE(BENCH.learn_yttm(corpus, merges=2000))
    config = BENCH.RUCLIP_B32_384
    processor = ruclip.RuClipProcessor(
        ruclip.RuClipTokenizer(bpe, config["context_length"]), ruclip.RuClipImageProcessor(config["image_resolution"])
    )
    from transformers import CLIPModel

    torch.manual_seed(0)
    return CLIPModel(ruclip.clip_config(config)).float().eval().to(device), processor


CPU_SECONDS: dict[str, list[float]] = {}  # per measured thing: the process's CPU time (all threads) of each run


def timed(action, name: str = "") -> tuple[float, object]:
    """Wall seconds of ``action`` and its result; its CPU seconds go to ``CPU_SECONDS[name]``: on a shared, busy
    machine the wall time says how long it waited for a core, the CPU time what it cost."""
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    CPU_SECONDS.setdefault(name, []).append(time.process_time() - cpu)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bank-runs", type=int, default=2, help="runs of the bank's first use (the slow part)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    model, processor = build_model(args.device)
    phrases = phrase_bank().phrases
    tokens = processor.tokenizer(list(phrases), padding=True, return_tensors="pt")["attention_mask"].sum(dim=1)
    print(f"bank: {len(phrases)} phrases, {tokens.float().mean():.1f} tokens on average (max {int(tokens.max())})")

    def classifier(store: Path) -> ZeroShotClassifier:
        return ZeroShotClassifier(model, processor, NAME, args.device, embedding_dir=store)

    first, disk, memory = [], [], []
    for _ in range(args.bank_runs):
        with tempfile.TemporaryDirectory() as store:
            fresh = lambda store=store: classifier(Path(store)).phrase_embeddings(phrases)  # noqa: E731
            spent, (_e, source) = timed(fresh, "first")
            assert source == "computed"
            first.append(spent)
            restarted = classifier(Path(store))
            spent, (_e, source) = timed(lambda restarted=restarted: restarted.phrase_embeddings(phrases), "disk")
            assert source == "disk"
            disk.append(spent)
            spent, (_e, source) = timed(lambda restarted=restarted: restarted.phrase_embeddings(phrases))
            assert source == "memory"
            memory.append(spent)

    with tempfile.TemporaryDirectory() as store:
        interrogator = Interrogator(classifier(Path(store)))
        interrogator.bank_embeddings()
        pictures = BENCH.photos(args.runs + 1, seed=3)
        interrogator.describe(pictures[-1])  # warm: the first call of each shape
        passes: list[int] = []
        original = interrogator.classifier.text_embeddings

        def counted(texts):
            passes.append(len(texts))
            return original(texts)

        interrogator.classifier.text_embeddings = counted  # type: ignore[method-assign]
        describes, images, chains = [], [], []
        for picture in pictures[:-1]:
            spent, _ = timed(lambda picture=picture: interrogator.describe(picture), "describe")
            describes.append(spent)
            spent, embedding = timed(lambda picture=picture: interrogator.classifier.image_embedding(picture), "image")
            images.append(spent)
            spent, _ = timed(lambda embedding=embedding: interrogator.describe_embedding(embedding), "chain")
            chains.append(spent)
    per_describe = len(passes) // (2 * args.runs)
    prompts = sum(passes) // (2 * args.runs)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    machine = next((line.split(":", 1)[1].strip() for line in _lscpu() if line.startswith("Model name")), "?")
    median = statistics.median
    print(
        f"\n{time.strftime('%Y-%m-%d')} · commit {commit.stdout.strip()} · {machine} · torch threads "
        f"{torch.get_num_threads()} · {platform.python_version()} · device {args.device}\n"
    )
    cpu = {name: median(values) for name, values in CPU_SECONDS.items()}
    print("| /describe on a real-size ruCLIP (random weights) | wall, median | CPU time, median |\n|---|---:|---:|")
    bank = f"{len(phrases)} phrases through the text encoder, stored"
    print(f"| phrase bank, first use ({bank}) | {median(first):.2f} s | {cpu['first']:.2f} s |")
    print(f"| phrase bank, restarted worker (fingerprint + file) | {median(disk):.3f} s | {cpu['disk']:.3f} s |")
    print(f"| phrase bank, in memory | {median(memory) * 1e6:.0f} µs | |")
    describe = f"**{median(describes):.2f} s** | {cpu['describe']:.2f} s"
    print(f"| a /describe with the bank ready (`Interrogator.describe`) | {describe} |")
    print(f"| … of which the image encoder | {median(images):.3f} s | {cpu['image']:.3f} s |")
    chain = f"{per_describe} text passes, {prompts} prompts"
    print(f"| … of which the greedy chain ({chain}) | {median(chains):.3f} s | {cpu['chain']:.3f} s |")
    whole = f"{median(first) + median(describes):.2f} s | {cpu['first'] + cpu['describe']:.2f} s"
    print(f"| a worker's first /describe (first use + one describe) | {whole} |")


def _lscpu() -> list[str]:
    try:
        return subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    except OSError:
        return []


if __name__ == "__main__":
    main()
