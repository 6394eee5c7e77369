"""✨ Prompt enhancement benchmark: a real-size Qwen2.5-0.5B-Instruct (random weights) on this machine's CPU.

Builds the architecture of ``Qwen/Qwen2.5-0.5B-Instruct`` (the default ``MODEL_PROMPT_WRITER``; its public
config.json: 24 layers, hidden 896, 14 query / 2 key-value heads, MLP 4864, vocabulary 151936, tied embeddings)
with random weights, saves it in the production layout and measures, through ``models.prompt_writer.PromptWriter``:

- first use: loading it (``AutoModelForCausalLM.from_pretrained``, what a worker does at start, or at the first
  ``--enhance`` with ``MODEL_PROMPT_WRITER_LAZY=true``) and its first enhancement;
- warm: the median of the next enhancements.

An enhancement is one ``generate`` of the production settings (seeded sampling, ``MAX_NEW_TOKENS`` new tokens)
after a prompt of ``--prompt-tokens`` tokens: the chat template with the Russian system prompt and a short idea is
~150-200 tokens with Qwen's real BPE. The tokenizer here is the tiny byte-level one (no hub access), so the input
ids are drawn at random over the real vocabulary instead, and every run generates the full ``MAX_NEW_TOKENS`` (a
real model stops at its end token, usually after 80-150 tokens for a 60-word description): an upper bound.

    python bench/enhance.py [--runs 3] [--prompt-tokens 180] [--dtype float32|bfloat16]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from models.prompt_writer import MAX_NEW_TOKENS, TEMPERATURE, TOP_P, PromptWriter  # noqa: E402
from models.tiny_families import build_qwen_tokenizer  # noqa: E402

# config.json of Qwen/Qwen2.5-0.5B-Instruct (public), the fields the architecture needs.
QWEN25_05B = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-06,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}


def build(path: Path) -> Path:
    """The random real-size model and the tiny tokenizer, saved as a hub snapshot would be (in bfloat16, as the
    hub's files are)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Qwen2ForCausalLM(Qwen2Config(**QWEN25_05B))
    model.to(torch.bfloat16).save_pretrained(path)
    build_qwen_tokenizer().save_pretrained(path)
    return path


def enhancement(writer: PromptWriter, prompt_tokens: int, seed: int) -> float:
    """Seconds for one production-sized ``generate``: ``prompt_tokens`` in, ``MAX_NEW_TOKENS`` out."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, QWEN25_05B["vocab_size"], (1, prompt_tokens), generator=generator)
    started = time.perf_counter()
    with torch.inference_mode():
        writer.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            temperature=TEMPERATURE,
            top_p=TOP_P,
            max_new_tokens=MAX_NEW_TOKENS,
            min_new_tokens=MAX_NEW_TOKENS,
            pad_token_id=0,
        )
    return time.perf_counter() - started


def machine() -> str:
    """CPU model and count, as lscpu says, for the benchmarks table."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{os.cpu_count()} vCPU {model}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=180)
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout
    threads = torch.get_num_threads()
    print(f"machine: {machine()}; torch {torch.__version__}, {threads} threads; commit {commit.strip()}")
    print(f"dtype {args.dtype}: {args.prompt_tokens} prompt tokens, {MAX_NEW_TOKENS} new tokens", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = build(Path(tmp) / "qwen2.5-0.5b-random")
        started = time.perf_counter()
        writer = PromptWriter.from_pretrained(str(path), dtype=getattr(torch, args.dtype), timeout=600)
        print(f"load {time.perf_counter() - started:.1f} s", flush=True)
        print(f"first enhancement {enhancement(writer, args.prompt_tokens, seed=0):.1f} s", flush=True)
        warm = []
        for run in range(1, args.runs + 1):
            warm.append(enhancement(writer, args.prompt_tokens, seed=run))
            print(f"warm enhancement {warm[-1]:.1f} s", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB
    median = statistics.median(warm)
    print(f"warm median {median:.1f} s of {args.runs} ({MAX_NEW_TOKENS / median:.1f} tokens/s)")
    print(f"peak RSS {rss:.2f} GiB (the random model's build included)")


if __name__ == "__main__":
    main()
