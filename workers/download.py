"""``python -m workers download [--preset NAME]``: fetch a preset's weights into the Hugging Face cache ahead of time.

A worker started afterwards with ``HF_HUB_OFFLINE=1`` loads them without contacting the Hub. Files come from
``huggingface_hub.snapshot_download`` (resumable, with its progress bars) into ``HF_HOME``; only what the loaders
read is fetched: PyTorch weights (not TensorFlow/Flax/ONNX copies, nor a diffusers repo's single-file
checkpoints), configs and tokenizers; for ruCLIP its three files. A preset with its own ``decoder`` (``cpu``:
TAESD) gets that repository and none of the pipeline's VAE. Of a diffusers pipeline's weights, only those the
loader reads: the variant its known defaults name (SDXL-Turbo: the fp16 files, half the download), else the
default files and no variant. A pipeline whose model card names
connected pipelines (Kandinsky 2.2's decoder names its prior) gets those too. With ``HF_HUB_OFFLINE=1`` the
command only checks that everything is already cached.

Where a worker on this machine runs the generator on OpenVINO (``MODEL_CPU_BACKEND``: the ``cpu`` preset with the
``openvino`` extra), the command then converts it into ``MODEL_CACHE_DIR/openvino`` too (tens of seconds on 2 cores), so
that the worker's first start only reads the converted models.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import load
from models.presets import (
    AUTO,
    GENERATOR_TEXT_ENCODER,
    OFFLOAD_AUTO,
    PRESETS,
    PROMPT_WRITER_OFF,
    TINY,
    TINY_PROMPT_WRITER,
    UPSCALER_OFF,
    resolve_preset,
)
from workers.config import ModelSettings

log = logging.getLogger(__name__)

# Weights of other frameworks and formats that our loaders (PyTorch, diffusers, transformers) never read.
OTHER_FORMATS = [
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "*.onnx_data",
    "*.tflite",
    "*.ckpt",
    "*.mlmodel",
    "*.mlpackage/*",
    "onnx/*",
    "openvino/*",
    "flax_model*",
    "tf_model*",
    "rust_model*",
]
# Diffusers pipelines load the default (fp32 file, cast on load) weights, unless their known defaults name a variant
# (models.generator.GenerationDefaults.variant): then only that variant's files.
VARIANTS = ["*.fp16.*", "*.bf16.*", "*.non_ema.*", "*.ema.*"]
# A pipeline component's default (non-variant) weight files, whole or sharded, as diffusers and transformers name
# them; a variant's names carry ".<variant>" (model.fp16.safetensors, ...-00001-of-00002.fp16.safetensors), which
# none of these match.
WEIGHT_STEMS = ("diffusion_pytorch_model", "model", "pytorch_model")
WEIGHT_TAILS = (".safetensors", ".bin", "-?????-of-?????.safetensors", "-?????-of-?????.bin", ".safetensors.index.json")
DEFAULT_WEIGHTS = [f"*/{stem}{tail}" for stem in WEIGHT_STEMS for tail in (*WEIGHT_TAILS, ".bin.index.json")]
# A diffusers pipeline repo: its components live in subfolders; root-level weights are single-file checkpoints.
PIPELINE_FILES = ["model_index.json", "README.md", "*/*"]
RUCLIP_FILES = ["bpe.model", "config.json", "pytorch_model.bin"]  # models.ruclip.RUCLIP_FILES
# A single diffusers model repo (TAESD): its config and diffusers weights, not the original .pth files beside them.
DECODER_FILES = ["config.json", "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"]
CONNECTED_PIPELINES = ("prior",)  # diffusers' model-card keys for pipelines loaded together with this one


@dataclass(frozen=True)
class Download:
    """One repository to fetch, and which of its files."""

    repo_id: str
    role: str
    allow_patterns: list[str] | None = None
    ignore_patterns: list[str] | None = None


def pipeline_download(repo_id: str, role: str, *, own_vae: bool = True) -> Download:
    """A diffusers pipeline repo's configs, tokenizers and the weight files its loader reads (``variant``'s only,
    where ``models.generator.known_defaults`` names one); without ``own_vae`` (a preset's ``decoder`` replaces it)
    nothing of its ``vae/`` folder."""
    from models.generator import known_defaults  # imports torch: only once a pipeline is to be fetched

    variant = known_defaults(repo_id).variant
    skipped = [] if own_vae else ["vae/*"]
    if variant is None:
        return Download(repo_id, role, PIPELINE_FILES, OTHER_FORMATS + VARIANTS + skipped)
    others = [pattern for pattern in VARIANTS if pattern != f"*.{variant}.*"]
    ignore = OTHER_FORMATS + others + DEFAULT_WEIGHTS + skipped
    return Download(repo_id, f"{role}, {variant} weights", PIPELINE_FILES, ignore)


def is_local(model: str) -> bool:
    """A local directory (or a tiny model built locally) needs no download."""
    return model.startswith("(") or Path(model).expanduser().exists()


def plan(
    preset_name: str,
    cache_dir: Path,
    *,
    generator: str | None = None,
    translator: str | None = None,
    cpu_offload: str = OFFLOAD_AUTO,
    classifier: str | None = None,
    upscaler: str | None = None,
    prompt_writer: str | None = None,
) -> list[Download]:
    """The repositories a worker with this preset (and ``MODEL_GENERATOR`` / ``MODEL_TRANSLATOR`` /
    ``MODEL_CLASSIFIER`` / ``MODEL_PROMPT_WRITER``) loads.

    ``auto`` is decided as the worker would, ``MODEL_CPU_OFFLOAD`` included (it changes which preset fits). The
    upscaler (``MODEL_UPSCALER``, else the preset's Real-ESRGAN) is one file of its repository.
    """
    upscaler_download = _upscaler_download(upscaler)
    if preset_name.strip().lower() == TINY and not generator and not classifier and not prompt_writer:
        return upscaler_download  # built locally from configs
    preset = resolve_preset(
        preset_name,
        cache_dir,
        generator=generator,
        translator=translator,
        classifier=classifier,
        cpu_offload=cpu_offload,
        upscaler=upscaler,
    )
    decoder = None if generator else preset.decoder  # as models.presets.load_models loads it
    downloads = [pipeline_download(preset.generator, "generator", own_vae=decoder is None)]
    if decoder:
        downloads.append(Download(decoder, "decoder", DECODER_FILES))
    if "ruclip" in preset.classifier.lower():
        downloads.append(Download(preset.classifier, "classifier", RUCLIP_FILES))
    else:
        downloads.append(Download(preset.classifier, "classifier", None, OTHER_FORMATS))
    if not preset.generator_reads_russian:
        downloads.append(Download(preset.translator, "translator", None, OTHER_FORMATS))
    downloads += _upscaler_download(preset.upscaler)
    writer = prompt_writer or preset.prompt_writer
    if writer.strip().lower() != PROMPT_WRITER_OFF and writer not in (GENERATOR_TEXT_ENCODER, TINY_PROMPT_WRITER):
        downloads.append(Download(writer, "prompt writer", None, OTHER_FORMATS))
    return [download for download in downloads if not is_local(download.repo_id)]


def _upscaler_download(source: str | None) -> list[Download]:
    """The one weights file of a ``<hub id>:<file>`` upscaler; nothing for a local file, none or ``off``."""
    from models.upscaler import hub_file  # imports torch: only once a plan is made

    hub = hub_file(source) if source and source.strip().lower() != UPSCALER_OFF else None
    return [] if hub is None else [Download(hub[0], "upscaler", [hub[1]])]


def connected_pipelines(snapshot: Path) -> list[str]:
    """Repos a pipeline's model card names as loaded with it (``prior: [kandinsky-community/...-prior]``)."""
    from huggingface_hub.repocard import metadata_load

    readme = snapshot / "README.md"
    metadata = (metadata_load(readme) or {}) if readme.is_file() else {}
    repos = []
    for key in CONNECTED_PIPELINES:
        value = metadata.get(key) or []
        repos += [value] if isinstance(value, str) else list(value)
    return repos


def fetch(downloads: list[Download], snapshot_download: Callable[..., str] | None = None) -> list[Path]:
    """Fetch each download (and the pipelines its model card connects); returns the local snapshot dirs."""
    if snapshot_download is None:
        from huggingface_hub import snapshot_download as hub_download

        snapshot_download = hub_download
    queue, done, paths = list(downloads), set(), []
    while queue:
        download = queue.pop(0)
        if download.repo_id in done:
            continue
        done.add(download.repo_id)
        print(f"{download.role}: {download.repo_id}", flush=True)
        path = Path(
            snapshot_download(
                download.repo_id, allow_patterns=download.allow_patterns, ignore_patterns=download.ignore_patterns
            )
        )
        paths.append(path)
        if download.role.startswith("generator"):
            for repo in connected_pipelines(path):
                role = f"generator (connected to {download.repo_id})"
                queue.append(pipeline_download(repo, role))
    return paths


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m workers download",
        description="Download a preset's model weights into the Hugging Face cache (HF_HOME), so that workers "
        "can start with HF_HUB_OFFLINE=1.",
    )
    parser.add_argument(
        "--preset",
        choices=[AUTO, *PRESETS],
        default=None,
        help="the preset to fetch; default: MODEL_PRESET (auto picks by this machine's GPU, as a worker would)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the command; returns the exit code (1: a download failed). ``MODEL_*`` is read here, once: a malformed
    value raises :class:`~core.config.ConfigError` (``python -m workers`` prints it and exits 2)."""
    args = parse_args(argv)
    settings = load(ModelSettings)
    preset = args.preset or settings.preset
    downloads = plan(
        preset,
        settings.cache_dir,
        generator=settings.generator,
        translator=settings.translator,
        cpu_offload=settings.cpu_offload,
        classifier=settings.classifier,
        upscaler=settings.upscaler,
        prompt_writer=settings.prompt_writer,
    )
    if not downloads:
        print(f"preset {preset}: nothing to download (its models are built locally or are local directories)")
    elif not fetched(preset, downloads):
        return 1
    return convert_ahead(preset, settings)


def fetched(preset: str, downloads: list[Download]) -> bool:
    """Fetch ``downloads`` into the Hugging Face cache, saying where; False (and why, on stderr) if one failed."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        print("HF_HUB_OFFLINE is set: checking the cache only, nothing is fetched")
    try:
        paths = fetch(downloads)
    except Exception as exc:  # network, gated repo, disk full, not cached while offline
        print(f"download failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    print(f"preset {preset}: {len(paths)} repositories in {constants.HF_HUB_CACHE}")
    return True


def convert_ahead(preset: str, settings: ModelSettings) -> int:
    """Where this machine's worker runs the generator on OpenVINO (``MODEL_CPU_BACKEND``), convert it now into
    ``MODEL_CACHE_DIR/openvino``: here, instead of on the worker's first start. Returns the exit code."""
    from models.presets import convert_for_cpu_backend

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the conversion's progress
    try:
        converted = convert_for_cpu_backend(
            preset, settings.cache_dir, settings.loads_on, generator=settings.generator, gpu=settings.gpu_options
        )
    except Exception as exc:  # e.g. not enough memory to load the generator here
        print(f"OpenVINO conversion failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if converted:
        where = settings.cache_dir / "openvino"
        print(f"OpenVINO: {', '.join(converted)} converted into {where}; a worker's first start reads them")
    return 0
