"""Tiny random models for tests and the offline ``tiny`` preset.

Everything is built locally from configs with a fixed seed (no hub access): tokenizers included.
The models are saved with ``save_pretrained`` so that they are loaded back through exactly the
same ``from_pretrained`` code path as the production weights.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import CLIPTokenizer, GemmaTokenizer

log = logging.getLogger(__name__)

# Bump when the tiny models change so that old caches are rebuilt, not reused.
TINY_VERSION = 2
GENERATOR_DIR = f"tiny-generator-v{TINY_VERSION}"
CLASSIFIER_DIR = f"tiny-classifier-v{TINY_VERSION}"
TINY_STEPS = 4
CLIP_MAX_LENGTH = 77
SIGLIP_MAX_LENGTH = 64
IMAGE_SIZE = 32  # classifier input
HIDDEN = 32
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level BPE alphabet: every byte mapped to a printable unicode character."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {byte: chr(char) for byte, char in zip(printable, chars, strict=True)}


def _clip_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level vocabulary (+ ``</w>`` variants), merges joining each Cyrillic letter's two bytes."""
    alphabet = bytes_to_unicode()
    chars = [alphabet[byte] for byte in range(256)]
    tokens = chars + [c + "</w>" for c in chars]
    merges: list[tuple[str, str]] = []
    for letter in CYRILLIC:
        first, second = (alphabet[byte] for byte in letter.encode("utf-8"))
        merges += [(first, second), (first, second + "</w>")]
    tokens += [a + b for a, b in merges] + ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}, merges


def build_clip_tokenizer(model_max_length: int = CLIP_MAX_LENGTH) -> CLIPTokenizer:
    """A CLIP byte-level BPE tokenizer built locally; it tokenizes any text, Cyrillic included."""
    from transformers import CLIPTokenizer

    vocab, merges = _clip_vocab_and_merges()
    # transformers annotates merges as "a b" strings; its BPE tokenizers take (a, b) pairs too
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=model_max_length)  # type: ignore[arg-type]


def build_gemma_tokenizer(model_max_length: int = SIGLIP_MAX_LENGTH) -> GemmaTokenizer:
    """A byte-fallback BPE tokenizer (the kind SigLIP-2 / Gemma use) built locally, right-padded."""
    from transformers import GemmaTokenizer

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    tokens = specials + [f"<0x{byte:02X}>" for byte in range(256)] + ["▁", *CYRILLIC, *"abcdefghijklmnopqrstuvwxyz"]
    vocab = {token: index for index, token in enumerate(tokens)}
    return GemmaTokenizer(vocab=vocab, model_max_length=model_max_length, padding_side="right")


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU RNG for the block, leaving the caller's RNG state untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _text_config(tokenizer, max_positions: int) -> dict:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": max_positions,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def _vision_config() -> dict:
    return {
        "image_size": IMAGE_SIZE,
        "patch_size": 8,
        "hidden_size": HIDDEN,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
    }


def _tiny_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=HIDDEN,
        attention_head_dim=4,
        norm_num_groups=4,
    )


def _tiny_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        sample_size=64,
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
    )


def _tiny_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def build_tiny_generator(path: Path, seed: int = 0) -> Path:
    """Build a tiny random Stable Diffusion pipeline (64x64 images) and save it to ``path``."""
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel

    path = Path(path)
    tokenizer = build_clip_tokenizer()
    with _seeded(seed):
        pipe = StableDiffusionPipeline(
            vae=_tiny_vae(),
            text_encoder=CLIPTextModel(CLIPTextConfig(**_text_config(tokenizer, CLIP_MAX_LENGTH))),
            tokenizer=tokenizer,
            unet=_tiny_unet(),
            scheduler=_tiny_scheduler(),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipe.save_pretrained(path)  # type: ignore[attr-defined]  # diffusers' lazy imports hide the pipeline's methods
    # byte-level tokenizer: Russian prompts need no translation
    defaults = {"default_steps": TINY_STEPS, "reads_russian": True}
    (path / "molbert.json").write_text(json.dumps(defaults), encoding="utf-8")
    return path


def build_tiny_classifier(path: Path, seed: int = 0) -> Path:
    """Build a tiny random CLIP model with its processor (local tokenizer) and save it to ``path``."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    path = Path(path)
    tokenizer = build_clip_tokenizer()
    config = CLIPConfig(
        text_config=_text_config(tokenizer, CLIP_MAX_LENGTH), vision_config=_vision_config(), projection_dim=HIDDEN
    )
    with _seeded(seed):
        model = CLIPModel(config)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    model.save_pretrained(path)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def build_tiny_siglip_classifier(path: Path, seed: int = 0, *, tokenizer=None) -> Path:
    """Build a tiny random SigLIP model (sigmoid scores) and its processor and save them to ``path``.

    ``tokenizer`` defaults to a local byte-fallback one (`build_gemma_tokenizer`); the text
    encoder's vocabulary and special ids follow whichever tokenizer is used.
    """
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    path = Path(path)
    tokenizer = tokenizer if tokenizer is not None else build_gemma_tokenizer()
    config = SiglipConfig(text_config=_text_config(tokenizer, SIGLIP_MAX_LENGTH), vision_config=_vision_config())
    with _seeded(seed):
        model = SiglipModel(config)
    image_processor = SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    model.save_pretrained(path)
    SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def build_tiny_siglip2_classifier(path: Path, seed: int = 0) -> Path:
    """Build a tiny random SigLIP2 (NaFlex: variable resolution, sigmoid scores) and its processor at ``path``."""
    from transformers import Siglip2Config, Siglip2ImageProcessor, Siglip2Model, Siglip2Processor

    path = Path(path)
    tokenizer = build_gemma_tokenizer()
    vision = {key: value for key, value in _vision_config().items() if key != "image_size"}
    patches = (IMAGE_SIZE // vision["patch_size"]) ** 2
    config = Siglip2Config(
        text_config=_text_config(tokenizer, SIGLIP_MAX_LENGTH), vision_config={**vision, "num_patches": patches}
    )
    with _seeded(seed):
        model = Siglip2Model(config)
    image_processor = Siglip2ImageProcessor(patch_size=vision["patch_size"], max_num_patches=patches)
    model.save_pretrained(path)
    Siglip2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def _build_atomically(target: Path, build: Callable[[Path], Path]) -> Path:
    """Build into a temporary sibling dir, then rename it to ``target``; a lost race is harmless."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        started = time.perf_counter()
        build(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
            log.info("another process built %s first; using it", target)
        else:
            log.info("built %s in %.1f s", target, time.perf_counter() - started)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_tiny_models(cache_dir: Path) -> tuple[Path, Path]:
    """Build the tiny generator and classifier under ``cache_dir`` unless present; return their dirs."""
    cache_dir = Path(cache_dir)
    generator = _build_atomically(cache_dir / GENERATOR_DIR, build_tiny_generator)
    classifier = _build_atomically(cache_dir / CLASSIFIER_DIR, build_tiny_classifier)
    return generator, classifier


UPSCALER_DIR = f"tiny-upscaler-v{TINY_VERSION}"


def ensure_tiny_upscaler(cache_dir: Path) -> Path:
    """Build the tiny ×4 RRDBNet (Real-ESRGAN's checkpoint format) under ``cache_dir`` unless present; its file."""
    from models.tiny_families import UPSCALER_FILE, build_tiny_upscaler

    folder = _build_atomically(Path(cache_dir) / UPSCALER_DIR, build_tiny_upscaler)
    return folder / UPSCALER_FILE.format(scale=4)
