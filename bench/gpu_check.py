"""GPU check: every real preset and the ruCLIP classifier at their real sizes, with random weights, on one GPU.

A GPU is lent here only now and then, for minutes, on a machine that reaches no model hub. This script needs no
weights: it builds each preset's models from their published configs, kept in ``bench/configs`` in the exact
saved-pipeline layout (see ``bench/configs/README.md`` for where each came from), with random weights made on the
device, saves them with ``save_pretrained`` and loads them back through the production loaders
(`models.generator.ImageGenerator.from_pretrained`, `models.classifier.ZeroShotClassifier.from_pretrained`,
`models.translation.Translator.from_pretrained`, composed as `models.presets.load_models` does). It records, as JSON
(``--out``) and as markdown tables for ``docs/benchmarks.md``:

- per preset (``quality``, ``compact``, ``fast``): the weights a whole worker holds (generator, classifier,
  translator), the peak GPU memory of that worker painting one picture at the preset's default size with
  ``MODEL_CPU_OFFLOAD`` off and ``model`` (``peak_gb_offload_off`` / ``peak_gb_offload_model``: the figures
  ``MODEL_PRESET=auto`` relies on; the allocator's peak reserve plus what the CUDA context and libraries hold
  outside it), and the seconds one picture takes at the default steps;
- ruCLIP: photos/s through ``classify_batch`` at batches of 1, 8, 32 and 64, in float32 and bfloat16, and the
  score drift between them (max abs difference of the softmax probabilities over a label set, random images);
- the gain of painting several users' prompts in one pipeline call for the ``fast`` preset (the worker paints one
  request per call today; it batches only classification, ``WORKER_BATCH_SIZE``).

Each stage times itself; a stage that would not fit in what is left of ``--budget-s`` is skipped (recorded as
such), and a hard stop at the budget ends the stage in flight cleanly. The JSON is rewritten after every stage, so
a run killed from outside still leaves what it measured.

``--toy`` builds the same layouts from the tiny configs of `models.tiny` / `models.tiny_families` instead, so the
whole path runs on a CPU in seconds (tests/unit/models/test_gpu_check.py runs it in CI); memory figures are then
``null``.

    python bench/gpu_check.py [--device cuda] [--presets quality,compact,fast] [--out gpu_check.json]
                              [--budget-s 480] [--toy] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import math
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from models import ruclip  # noqa: E402
from models.acceleration import GpuOptions  # noqa: E402
from models.device import pick_device, pick_dtype  # noqa: E402
from models.labels import default_labels  # noqa: E402
from models.presets import PRESETS, RU_EN_TRANSLATOR, RUCLIP, LoadedModels  # noqa: E402

log = logging.getLogger("gpu_check")

CONFIGS = REPO / "bench" / "configs"
SCHEMA = 1
VARIANT_DTYPES = {"fp16": torch.float16}  # diffusers weight variants: the dtype of their files
REAL_PRESETS = ("quality", "compact", "fast")
PROMPT = "рыжий кот на подоконнике, акварель"  # Russian, like a user's: goes through the translator where needed
BATCH_PROMPTS = ("рыжий кот на окне", "дом у реки на закате", "собака бежит по полю", "маяк в шторм, масло")
CLASSIFIER_BATCHES = (1, 8, 32, 64)
TOY_CLASSIFIER_BATCHES = (1, 8)
DRIFT_IMAGES = 16
DRIFT_LABELS = ("кошка", "собака", "машина", "дом", "дерево")
BATCHING_REQUESTS = (1, 2, 4, 8)
TOY_BATCHING_REQUESTS = (2,)
WARMUP_STEPS = 2  # the peak of a picture does not grow with its step count: the warm-up picture measures it
GB = 1e9
# Seconds each stage is expected to take on an H100/H200 (the figures of a first plan, used to skip what cannot
# fit); toy sizes on a CPU take a few seconds each.
STAGE_SECONDS = {"classifier": 30, "quality": 220, "compact": 110, "fast": 80}
TOY_STAGE_SECONDS = {"classifier": 60, "quality": 60, "compact": 60, "fast": 60}  # a slow shared CPU
STAGE_ORDER = ("classifier", "quality", "compact", "fast")  # the figures `auto` needs most first; batching last
RESERVE_S = 5  # kept free when deciding whether a timed picture still fits
PRESET_FIELDS = (
    "status",
    "reason",
    "generator",
    "build_s",
    "load_s",
    "weights_gb",
    "generator_weights_gb",
    "default_size",
    "default_steps",
    "memory_measured",
    "cuda_context_gb",
    "peak_gb_offload_off",
    "peak_allocated_gb_offload_off",
    "peak_gb_offload_model",
    "peak_allocated_gb_offload_model",
    "seconds_per_picture",
    "seconds_per_picture_offload_model",
    "notes",
)


class BudgetExceeded(Exception):
    """The run's time budget ran out in the middle of a stage."""


# --- where each preset's configs are, and what to call its built dirs ----------------------------------------


@dataclass(frozen=True)
class Layout:
    """A preset's saved-pipeline config dirs (relative to the config root) and the hub ids they stand for."""

    generator: str  # config dir of the pipeline the worker loads
    generator_id: str
    prior: str | None = None  # Kandinsky 2.2: the prior pipeline, linked from the decoder's model card
    prior_id: str | None = None
    translator: bool = False


LAYOUTS = {
    "quality": Layout("quality", PRESETS["quality"].generator),
    "compact": Layout(
        "compact/decoder",
        PRESETS["compact"].generator,
        prior="compact/prior",
        prior_id="kandinsky-community/kandinsky-2-2-prior",
        translator=True,
    ),
    "fast": Layout("fast", PRESETS["fast"].generator, translator=True),
}


def dir_name(hub_id: str) -> str:
    """A built model's dir name: the hub id with ``--`` for ``/``, so name-based defaults
    (`models.generator.known_defaults`: ``sdxl-turbo``, ``kandinsky-2-2``, ``kandinsky-5``) match as for the hub id."""
    return hub_id.replace("/", "--")


# --- building random models from a saved layout --------------------------------------------------------------


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Make modules built in the block have ``dtype`` weights (no float32 copy first: a 7B model in bf16 is 15 GB)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def model_class(library: str, name: str) -> type | None:
    """The class ``name`` of ``library`` (diffusers / transformers) if it is a model with weights, else None."""
    module = __import__(library)
    cls = getattr(module, name, None)
    if cls is None:
        return None
    from diffusers import ModelMixin
    from transformers import PreTrainedModel

    return cls if isinstance(cls, type) and issubclass(cls, ModelMixin | PreTrainedModel) else None


def random_model(library: str, cls: type, folder: Path) -> torch.nn.Module:
    """``cls`` built from the ``config.json`` in ``folder``, randomly initialised on the current default device."""
    if library == "diffusers":
        return cls.from_config(cls.load_config(folder))
    from transformers import AutoConfig

    return cls(AutoConfig.from_pretrained(folder))


def build_component(
    library: str,
    class_name: str,
    source: Path,
    target: Path,
    device: str,
    dtype: torch.dtype,
    adjust: Callable[[torch.nn.Module], None] | None = None,
    variant: str | None = None,
) -> int:
    """Save a random ``class_name`` built from ``source``'s config into ``target`` (``adjust`` applied first; as
    ``variant``'s files in its dtype where given, e.g. ``fp16``, as the hub publishes some); return its parameter
    count."""
    cls = model_class(library, class_name)
    with torch.device(device), default_dtype(dtype), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = random_model(library, cls, source)
    if class_name == "PriorTransformer":
        model.clip_std.data.fill_(1.0)  # initialised to 0, which would make every image embedding 0
    if adjust is not None:
        adjust(model)
    count = sum(p.numel() for p in model.parameters())
    if variant is not None:
        model.to(VARIANT_DTYPES[variant]).save_pretrained(target, variant=variant)
    else:
        model.save_pretrained(target)
    del model
    return count


def model_components(source: Path) -> dict[str, tuple[str, str]]:
    """The components of the layout in ``source`` that are models with weights: name -> (library, class)."""
    index = json.loads((source / "model_index.json").read_text(encoding="utf-8"))
    return {
        name: (spec[0], spec[1])
        for name, spec in index.items()
        if isinstance(spec, list) and len(spec) == 2 and spec[0] and model_class(spec[0], spec[1]) is not None
    }


def count_parameters(source: Path) -> dict[str, int]:
    """Parameters of each model the layout in ``source`` describes, built on the meta device (no memory, no time):
    how the tests check that the configs kept here describe the real sizes."""
    counts = {}
    for name, (library, class_name) in model_components(source).items():
        with torch.device("meta"):
            model = random_model(library, model_class(library, class_name), source / name)
        counts[name] = sum(p.numel() for p in model.parameters())
    return counts


def build_layout(
    source: Path, target: Path, device: str, dtype: torch.dtype, variant: str | None = None
) -> dict[str, int]:
    """Build the pipeline whose configs are in ``source`` (``model_index.json`` + one folder per component) into
    ``target``: each model component random from its ``config.json`` (saved as ``variant``'s files where given),
    everything else (tokenizers, schedulers, image processors, top-level files such as ``molbert.json``) copied as
    it is. Returns parameters per model."""
    index = json.loads((source / "model_index.json").read_text(encoding="utf-8"))
    target.mkdir(parents=True, exist_ok=True)
    counts = {}
    for entry in sorted(source.iterdir()):
        spec = index.get(entry.name)
        library, class_name = spec if isinstance(spec, list) and len(spec) == 2 else (None, None)
        if entry.is_dir() and library and model_class(library, class_name) is not None:
            counts[entry.name] = build_component(
                library, class_name, entry, target / entry.name, device, dtype, variant=variant
            )
            empty_cache(device)
        elif entry.is_dir():
            shutil.copytree(entry, target / entry.name, dirs_exist_ok=True)
        elif entry.suffix in (".json", ".txt"):
            shutil.copy(entry, target / entry.name)
    return counts


def build_translator(source: Path, target: Path, device: str, dtype: torch.dtype) -> int:
    """A random MarianMT from ``source``'s config, with ``source``'s tokenizer files, into ``target``.

    The real config's 62518-token vocabulary is kept (its embeddings and output layer are a real share of the work),
    but the stand-in tokenizer knows only a few dozen pieces: the output bias shuts the other ids out, so that what
    the model writes can be decoded."""
    from transformers import MarianMTModel, MarianTokenizer

    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    known = len(MarianTokenizer.from_pretrained(source))

    def only_known_ids(model: torch.nn.Module) -> None:
        model.final_logits_bias.data[:, known:] = -1e4

    return build_component("transformers", MarianMTModel.__name__, source, target, device, dtype, only_known_ids)


def build_ruclip(config: dict, bpe_model: Path, target: Path, device: str) -> int:
    """A random ruCLIP in the layout `models.ruclip.load_ruclip` keeps its conversions in (``CLIPModel`` files,
    ``bpe.model``, ruCLIP's config as ``ruclip_config.json``); its logit scale set to the trained models' 100, which
    sets how sharp the scores are and so how far bf16 moves them."""
    from transformers import CLIPModel

    with torch.device(device), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = CLIPModel(ruclip.clip_config(config)).float()
    model.logit_scale.data.fill_(math.log(100.0))
    count = sum(p.numel() for p in model.parameters())
    model.save_pretrained(target)
    shutil.copy(bpe_model, target / ruclip.BPE_FILE)
    (target / ruclip.CONVERTED_CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    return count


def link_prior(decoder: Path, prior: Path) -> None:
    """As on the Hub, the Kandinsky 2.2 decoder's model card names its prior (here by absolute path)."""
    (decoder / "README.md").write_text(f"---\nprior:\n- {prior.resolve()}\n---\nRandom-weight Kandinsky 2.2 decoder.\n")


# --- the config roots: real ones in the repo, toy ones made from the tiny builders ----------------------------


@dataclass(frozen=True)
class ConfigRoot:
    """Where the presets' layouts, the translator's and ruCLIP's configs are."""

    root: Path
    ruclip_config: dict
    bpe_model: Path


def real_configs() -> ConfigRoot:
    """The published configs kept in ``bench/configs``."""
    ruclip_dir = CONFIGS / "ruclip"
    config = json.loads((ruclip_dir / "config.json").read_text(encoding="utf-8"))
    return ConfigRoot(CONFIGS, config, ruclip_dir / ruclip.BPE_FILE)


TOY_RUCLIP = {
    "embed_dim": 32,
    "image_resolution": 32,
    "vision_layers": 2,
    "vision_width": 64,
    "vision_patch_size": 8,
    "context_length": 77,
    "vocab_size": 128,
    "transformer_width": 32,
    "transformer_heads": 4,
    "transformer_layers": 2,
}


def toy_configs(root: Path) -> ConfigRoot:
    """The same layouts with the tiny configs: the tiny builders' pipelines saved under ``root`` (their weights are
    ignored: `build_layout` reads only configs, tokenizers and schedulers from them)."""
    from models import tiny_families

    tiny_families.build_tiny_kandinsky5(root / "quality")
    decoder = tiny_families.build_tiny_kandinsky22(root / "compact")
    (decoder / "README.md").unlink()  # the builder links its own prior; build_layout's output gets its own link
    tiny_families.build_tiny_sdxl(root / "fast")
    tiny_families.build_tiny_marian(root / "translator")
    bpe_model = CONFIGS / "ruclip" / ruclip.BPE_FILE
    return ConfigRoot(root, TOY_RUCLIP, bpe_model)


# --- measuring --------------------------------------------------------------------------------------------------


def is_cuda(device: str) -> bool:
    """Whether ``device`` is a CUDA device (the only kind whose memory is measured)."""
    return torch.device(device).type == "cuda"


def empty_cache(device: str) -> None:
    """Free what Python and the CUDA allocator no longer use."""
    gc.collect()
    if is_cuda(device):
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


def synchronize(device: str) -> None:
    """Wait for the device's queued work (so that a timer sees it)."""
    if is_cuda(device):
        torch.cuda.synchronize(device)


def reset_peak(device: str) -> None:
    """Start a new peak-memory window."""
    if is_cuda(device):
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: str) -> dict[str, float | None]:
    """The window's peak: the allocator's peak reserve plus what is used outside it (CUDA context, cuBLAS and cuDNN
    workspaces), i.e. what the card must hold; and the peak of live tensors. None on a CPU."""
    if not is_cuda(device):
        return {"peak_gb": None, "peak_allocated_gb": None, "cuda_context_gb": None}
    free, total = torch.cuda.mem_get_info(device)
    outside = max(0, (total - free) - torch.cuda.memory_reserved(device))
    return {
        "peak_gb": round((torch.cuda.max_memory_reserved(device) + outside) / GB, 2),
        "peak_allocated_gb": round(torch.cuda.max_memory_allocated(device) / GB, 2),
        "cuda_context_gb": round(outside / GB, 2),
    }


def module_bytes(module: Any) -> int:
    """Bytes of a module's parameters and buffers (0 for anything that is not a module)."""
    if not isinstance(module, torch.nn.Module):
        return 0
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def pipeline_bytes(pipe: Any) -> int:
    """Bytes of every model a diffusers pipeline holds (a combined pipeline's sub-pipelines included)."""
    return sum(module_bytes(component) for component in pipe.components.values())


def worker_bytes(models: LoadedModels) -> tuple[int, int]:
    """(whole worker, generator alone) weight bytes."""
    generator = pipeline_bytes(models.generator.pipe)
    rest = module_bytes(models.classifier.model)
    if models.translator is not None:
        rest += module_bytes(models.translator.model)
    return generator + rest, generator


def random_photos(count: int, seed: int = 0, size: tuple[int, int] = (640, 480)) -> list[Image.Image]:
    """``count`` random RGB photos (noise), of a phone photo's shape."""
    rng = np.random.default_rng(seed)
    width, height = size
    return [Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)) for _ in range(count)]


def timed(action: Callable[[], Any], device: str) -> float:
    """Seconds ``action`` takes, its device work included."""
    synchronize(device)
    started = time.perf_counter()
    action()
    synchronize(device)
    return time.perf_counter() - started


# --- the run's context: device, budget, results ----------------------------------------------------------------


@dataclass
class Run:
    """One run of the check: where it runs, its budget, its working dirs and its results so far."""

    device: str
    dtype: torch.dtype
    toy: bool
    budget_s: float
    workdir: Path
    configs: ConfigRoot
    out: Path | None
    keep: bool = False
    started: float = field(default_factory=time.perf_counter)
    results: dict[str, Any] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)  # stages not started yet
    _ruclip_dir: Path | None = None

    def left(self) -> float:
        """Seconds left of the budget."""
        return self.budget_s - (time.perf_counter() - self.started)

    def estimate(self, stage: str) -> float:
        """Seconds ``stage`` is expected to take here."""
        return (TOY_STAGE_SECONDS if self.toy else STAGE_SECONDS)[stage]

    @property
    def classifier_batches(self) -> tuple[int, ...]:
        """Batch sizes the classifier is timed at (fewer at toy sizes: the CPU run is a smoke test)."""
        return TOY_CLASSIFIER_BATCHES if self.toy else CLASSIFIER_BATCHES

    @property
    def batching_requests(self) -> tuple[int, ...]:
        """How many waiting requests the batching gain is measured for."""
        return TOY_BATCHING_REQUESTS if self.toy else BATCHING_REQUESTS

    def spare(self) -> float:
        """Seconds left beyond what the stages still to come are expected to need (for the optional figures)."""
        return self.left() - sum(self.estimate(stage) for stage in self.pending)

    def ruclip_dir(self) -> Path:
        """The random real-size (or toy) ruCLIP, built once and shared by the presets and the classifier stage."""
        if self._ruclip_dir is None:
            target = self.workdir / dir_name(RUCLIP)
            build_ruclip(self.configs.ruclip_config, self.configs.bpe_model, target, self.device)
            self._ruclip_dir = target
        return self._ruclip_dir

    def save(self) -> None:
        """Write the results so far (after every stage: a run killed from outside keeps what it measured)."""
        self.results["elapsed_s"] = round(time.perf_counter() - self.started, 1)
        if self.out is not None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.out.write_text(json.dumps(self.results, indent=2, ensure_ascii=False), encoding="utf-8")


@contextlib.contextmanager
def hard_stop(seconds: float) -> Iterator[None]:
    """Raise `BudgetExceeded` in the main thread once ``seconds`` have passed (SIGALRM; nothing where it is missing).

    A CUDA kernel in flight finishes first; the stage then unwinds and the run writes what it has."""
    if not hasattr(signal, "SIGALRM") or seconds <= 0 or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield  # no SIGALRM here, or someone else's timer runs (pytest-timeout): leave it alone
        return

    def expire(_signum: int, _frame: Any) -> None:
        raise BudgetExceeded

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_stage(run: Run, name: str, record: dict[str, Any], body: Callable[[dict[str, Any]], None]) -> None:
    """Run ``body(record)`` unless the budget cannot fit it; time it; turn a failure into a recorded error."""
    needed, left = run.estimate(name), run.left()
    if name in run.pending:
        run.pending.remove(name)
    stage = {"name": name, "seconds": 0.0}
    if left < needed:
        record.update(status="skipped", reason=f"budget: needs about {needed:.0f} s, {left:.0f} s left")
        stage["status"] = "skipped"
    else:
        started = time.perf_counter()
        try:
            with hard_stop(min(left, 2 * needed)):  # a runaway stage leaves the others their time
                body(record)
            record.update(status="ok")
        except BudgetExceeded:
            record.update(status="stopped", reason="the stage ran out of time (budget, or twice its estimate)")
        except Exception as exc:  # a first run on a new machine: record what broke, go on with the next stage
            log.exception("stage %s failed", name)
            record.update(status="error", reason=f"{type(exc).__name__}: {exc}"[:500])
        stage.update(status=record["status"], seconds=round(time.perf_counter() - started, 1))
        empty_cache(run.device)
    log.info("stage %s: %s in %.1f s (%.0f s left)", name, stage["status"], stage["seconds"], run.left())
    run.results["stages"].append(stage)
    run.save()


# --- loading a whole worker ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltPreset:
    """A preset's models built under the workdir."""

    generator: Path
    translator: Path | None
    classifier: Path
    dirs: tuple[Path, ...]  # everything to delete afterwards
    seconds: float


def build_preset(run: Run, name: str) -> BuiltPreset:
    """Build the preset's generator (and Kandinsky 2.2's prior) and, if it needs one, the translator."""
    started = time.perf_counter()
    layout = LAYOUTS[name]
    generator = run.workdir / dir_name(layout.generator_id)
    build_layout(run.configs.root / layout.generator, generator, run.device, run.dtype)
    dirs = [generator]
    if layout.prior:
        prior = run.workdir / dir_name(layout.prior_id)
        build_layout(run.configs.root / layout.prior, prior, run.device, run.dtype)
        link_prior(generator, prior)
        dirs.append(prior)
    translator = None
    if layout.translator:
        translator = run.workdir / f"{dir_name(RU_EN_TRANSLATOR)}-{name}"
        build_translator(run.configs.root / "translator", translator, run.device, run.dtype)
        dirs.append(translator)
    classifier = run.ruclip_dir()
    empty_cache(run.device)
    return BuiltPreset(generator, translator, classifier, tuple(dirs), time.perf_counter() - started)


def load_worker(run: Run, name: str, built: BuiltPreset, offload: str) -> LoadedModels:
    """Load the preset's models as a worker does, through `models.presets.load_models` (generator, classifier with
    the default labels' text embeddings, translator), pointed at the folders built at real size."""
    from models import presets

    return presets.load_models(
        name,
        run.workdir / "model-cache",
        run.device,
        generator=str(built.generator),
        translator=str(built.translator) if built.translator else None,
        classifier=str(built.classifier),
        gpu=GpuOptions(cpu_offload=offload),
        upscaler="off",  # the check measures the painting worker; the upscaler and ✨ writer are not built here
        prompt_writer="off",
    )


def paint(models: LoadedModels, steps: int | None = None, prompts: tuple[str, ...] = (PROMPT,)) -> list[Image.Image]:
    """What a generation job does with the models: translate if needed, paint at the default size, score the
    pictures with the classifier (the worker's output check runs its image encoder on them)."""
    words = [models.generator_words(prompt, None)[0] for prompt in prompts]
    images = models.generator.generate(words[0] if len(words) == 1 else words, seed=0, steps=steps)
    models.classifier.classify_batch(images, [DRIFT_LABELS] * len(images))
    return images


def measure_offload(run: Run, name: str, built: BuiltPreset, offload: str, record: dict[str, Any]) -> LoadedModels:
    """Load the worker with ``offload`` and paint a warm-up picture at the default size: its peak is the worker's.
    Then time one picture at the default steps if it fits (its time guessed from the warm-up's pace): always with
    offload off, with offload only from the spare budget. Returns the loaded models (the caller frees them)."""
    suffix = "offload_off" if offload == "none" else f"offload_{offload}"
    empty_cache(run.device)
    reset_peak(run.device)
    started = time.perf_counter()
    models = load_worker(run, name, built, offload)
    load_s = time.perf_counter() - started
    warm_s = timed(lambda: paint(models, steps=WARMUP_STEPS), run.device)
    memory = peak_memory(run.device)
    record[f"peak_gb_{suffix}"] = memory["peak_gb"]
    record[f"peak_allocated_gb_{suffix}"] = memory["peak_allocated_gb"]
    if offload == "none":
        total, generator = worker_bytes(models)
        record.update(
            load_s=round(load_s, 1),
            weights_gb=float(f"{total / GB:.3g}"),
            generator_weights_gb=float(f"{generator / GB:.3g}"),
            default_size=list(models.generator.default_size),
            default_steps=models.generator.default_steps,
            cuda_context_gb=memory["cuda_context_gb"],
        )
    guess = warm_s * max(1.0, models.generator.default_steps / WARMUP_STEPS)
    room = (run.left() if offload == "none" else run.spare()) - RESERVE_S
    key = "seconds_per_picture" if offload == "none" else f"seconds_per_picture_{suffix}"
    if guess < room:
        record[key] = round(timed(lambda: paint(models), run.device), 2)
    else:
        record["notes"].append(f"{key} not timed: about {guess:.0f} s, {room:.0f} s to spare")
    return models


def release(models: LoadedModels | None, device: str) -> None:
    """Drop a loaded worker's models and give their memory back."""
    if models is not None:
        models.generator.pipe = None
        del models
    empty_cache(device)


def batching_gain(run: Run, models: LoadedModels) -> dict[str, Any]:
    """For N waiting requests: N pipeline calls one after another vs one call with the N prompts."""
    rows = []
    for count in run.batching_requests:
        prompts = tuple(BATCH_PROMPTS[i % len(BATCH_PROMPTS)] for i in range(count))
        if run.left() < 15 and not run.toy:
            break

        def one_by_one(prompts: tuple[str, ...] = prompts) -> None:
            for prompt in prompts:
                paint(models, prompts=(prompt,))

        sequential = timed(one_by_one, run.device)
        reset_peak(run.device)
        batched = timed(lambda prompts=prompts: paint(models, prompts=prompts), run.device)
        rows.append(
            {
                "requests": count,
                "sequential_s": round(sequential, 3),
                "batched_s": round(batched, 3),
                "gain": round(sequential / batched, 2) if batched > 0 else None,
                "peak_gb_batched": peak_memory(run.device)["peak_gb"],
            }
        )
    return {"preset": "fast", "steps": models.generator.default_steps, "rows": rows}


def preset_stage(run: Run, name: str) -> Callable[[dict[str, Any]], None]:
    """The stage that builds, loads and measures preset ``name`` (and, for ``fast``, the batching gain)."""

    def body(record: dict[str, Any]) -> None:
        record["notes"] = []
        built = build_preset(run, name)
        record["build_s"] = round(built.seconds, 1)
        models = None
        try:
            models = measure_offload(run, name, built, "none", record)
            if name == "fast":
                run.results["batching"].update(batching_gain(run, models), status="ok")
            release(models, run.device)
            models = None
            if is_cuda(run.device):  # on a CPU there is nothing to offload to (the worker ignores the setting)
                models = measure_offload(run, name, built, "model", record)
        finally:
            release(models, run.device)
            if not run.keep:
                for path in built.dirs:
                    shutil.rmtree(path, ignore_errors=True)

    return body


# --- the classifier stage --------------------------------------------------------------------------------------


def photos_per_second(classifier: Any, labels: tuple[str, ...], batch: int, device: str, runs: int = 3) -> float:
    """Photos/s through ``classify_batch`` with ``batch`` photos at once (median of ``runs`` timed runs after 1)."""
    photos = random_photos(batch, seed=batch)
    lists = [labels] * batch
    classifier.classify_batch(photos, lists)
    times = [timed(lambda: classifier.classify_batch(photos, lists), device) for _ in range(runs)]
    return round(batch / statistics.median(times), 2)


def score_drift(reference: Any, other: Any, labels: tuple[str, ...]) -> dict[str, float]:
    """How far ``other``'s scores are from ``reference``'s on random photos: max abs difference of the softmax
    probabilities, and the share of photos whose best label is the same."""
    photos = random_photos(DRIFT_IMAGES, seed=99)
    lists = [labels] * len(photos)
    first, second = reference.classify_batch(photos, lists), other.classify_batch(photos, lists)
    diffs, same = [], 0
    for a, b in zip(first, second, strict=True):
        a_scores, b_scores = dict(a), dict(b)
        diffs.append(max(abs(a_scores[label] - b_scores[label]) for label in a_scores))
        same += a[0][0] == b[0][0]
    return {"max_abs_prob_diff": float(f"{max(diffs):.3g}"), "top1_agreement": round(same / len(photos), 3)}


def classifier_stage(run: Run) -> Callable[[dict[str, Any]], None]:
    """ruCLIP alone: throughput per batch size in float32 and bfloat16, and the drift between the two."""

    def body(record: dict[str, Any]) -> None:
        from models.classifier import ZeroShotClassifier

        source = run.ruclip_dir()
        labels = tuple(default_labels())
        loaded = {}
        for dtype in (torch.float32, torch.bfloat16):
            classifier = ZeroShotClassifier.from_pretrained(str(source), device=run.device, dtype=dtype)
            classifier.preload_labels(labels)
            loaded[str(dtype).removeprefix("torch.")] = classifier
        runs = 1 if run.toy else 3
        record["photos_per_s"] = {
            dtype: {
                str(size): photos_per_second(classifier, labels, size, run.device, runs)
                for size in run.classifier_batches
            }
            for dtype, classifier in loaded.items()
        }
        reference, other = loaded["float32"], loaded["bfloat16"]
        record["drift_bf16_vs_fp32"] = {
            f"{len(labels)}_default_labels": score_drift(reference, other, labels),
            f"{len(DRIFT_LABELS)}_labels": score_drift(reference, other, DRIFT_LABELS),
        }
        record["label_count"] = len(labels)

    return body


# --- reporting -------------------------------------------------------------------------------------------------


def _cell(value: Any, unit: str = "") -> str:
    return "–" if value is None else f"{value}{unit}"


def markdown(results: dict[str, Any]) -> str:
    """The results as the tables docs/benchmarks.md keeps."""
    lines = [
        f"GPU check on {results['gpu']} ({results['device']}, {results['dtype']}), torch {results['torch']}, "
        f"diffusers {results['diffusers']}, transformers {results['transformers']}; random weights, real sizes"
        + (" (TOY sizes)" if results["toy"] else ""),
        "",
        "| preset | status | worker weights | peak, offload off | peak, offload model | size, steps | s/picture "
        "| s/picture, offload model |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for name, r in results["presets"].items():
        size = "×".join(map(str, r["default_size"])) if r["default_size"] else "–"
        lines.append(
            f"| {name} | {r['status']} | {_cell(r['weights_gb'], ' GB')} | {_cell(r['peak_gb_offload_off'], ' GB')} "
            f"| {_cell(r['peak_gb_offload_model'], ' GB')} | {size}, {_cell(r['default_steps'])} "
            f"| {_cell(r['seconds_per_picture'], ' s')} | {_cell(r['seconds_per_picture_offload_model'], ' s')} |"
        )
    classifier = results["classifier"]
    if classifier.get("photos_per_s"):
        batches = list(next(iter(classifier["photos_per_s"].values())))
        lines += ["", "| ruCLIP photos/s | " + " | ".join(f"batch {b}" for b in batches) + " |"]
        lines.append("|---|" + "---:|" * len(batches))
        for dtype, rates in classifier["photos_per_s"].items():
            lines.append(f"| {dtype} | " + " | ".join(str(rates[b]) for b in batches) + " |")
        for label_set, drift in classifier["drift_bf16_vs_fp32"].items():
            lines.append(
                f"\nbf16 vs fp32 over {label_set.replace('_', ' ')}: max |Δp| {drift['max_abs_prob_diff']}, "
                f"same best label {drift['top1_agreement']:.0%}"
            )
    batching = results["batching"]
    if batching.get("rows"):
        lines += ["", "| fast: requests | one call each | one call for all | gain | peak, one call |"]
        lines.append("|---:|---:|---:|---:|---:|")
        for row in batching["rows"]:
            lines.append(
                f"| {row['requests']} | {row['sequential_s']} s | {row['batched_s']} s | {row['gain']}× "
                f"| {_cell(row['peak_gb_batched'], ' GB')} |"
            )
    return "\n".join(lines) + "\n"


def environment(device: str, dtype: torch.dtype, toy: bool, budget_s: float) -> dict[str, Any]:
    """What the figures were measured on."""
    import diffusers
    import transformers

    gpu = torch.cuda.get_device_name(torch.device(device)) if is_cuda(device) else "no GPU"
    return {
        "schema": SCHEMA,
        "toy": toy,
        "device": device,
        "gpu": gpu,
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "budget_s": budget_s,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def empty_results(run: Run, presets: list[str]) -> dict[str, Any]:
    """Every field the JSON promises, filled with None until measured (skipped stages keep them so)."""
    results = environment(run.device, run.dtype, run.toy, run.budget_s)
    measured = is_cuda(run.device)  # on a CPU the memory fields stay None: torch keeps no peak there
    results["presets"] = {
        name: {
            **dict.fromkeys(PRESET_FIELDS),
            "status": "pending",
            "generator": LAYOUTS[name].generator_id,
            "memory_measured": measured,
            "notes": [],
        }
        for name in presets
    }
    results["classifier"] = {"status": "pending", "model": RUCLIP, "photos_per_s": None, "drift_bf16_vs_fp32": None}
    results["batching"] = {"status": "pending", "preset": "fast", "rows": []}
    results["stages"] = []
    return results


# --- entry point -----------------------------------------------------------------------------------------------


def default_workdir(toy: bool) -> Path:
    """A fresh temporary dir, in RAM (``/dev/shm``) where it has room for the largest preset (≈ 30 GB in bf16)."""
    shm = Path("/dev/shm")
    if not toy and shm.is_dir() and shutil.disk_usage(shm).free > 40 * GB:
        return Path(tempfile.mkdtemp(prefix="gpu-check-", dir=shm))
    return Path(tempfile.mkdtemp(prefix="gpu-check-"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="torch device (auto: cuda if there is one)")
    parser.add_argument("--presets", default=",".join(REAL_PRESETS), help="comma-separated presets to measure")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="where to write the JSON")
    parser.add_argument("--budget-s", type=float, default=480.0, help="seconds for the whole run (stages skipped)")
    parser.add_argument("--toy", action="store_true", help="tiny configs instead of the real ones (CPU, seconds)")
    parser.add_argument("--workdir", type=Path, help="where to build the models (default: a fresh temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the built models (default: delete them)")
    args = parser.parse_args(argv)
    args.presets = [name.strip() for name in args.presets.split(",") if name.strip()]
    unknown = [name for name in args.presets if name not in REAL_PRESETS]
    if unknown:
        parser.error(f"unknown presets {unknown}; choose from {', '.join(REAL_PRESETS)}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the check; return the results (also written to ``--out``, tables printed and written beside it)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local: never ask the Hub
    device = pick_device(args.device)
    workdir = args.workdir or default_workdir(args.toy)
    workdir.mkdir(parents=True, exist_ok=True)
    configs = toy_configs(workdir / "toy-configs") if args.toy else real_configs()
    run = Run(device, pick_dtype(device), args.toy, args.budget_s, workdir, configs, args.out, args.keep)
    run.results = empty_results(run, args.presets)
    run.pending = [stage for stage in STAGE_ORDER if stage == "classifier" or stage in args.presets]
    try:
        for stage in list(run.pending):
            if stage == "classifier":
                run_stage(run, stage, run.results["classifier"], classifier_stage(run))
            else:
                run_stage(run, stage, run.results["presets"][stage], preset_stage(run, stage))
        if run.results["batching"]["status"] == "pending":
            fast = run.results["presets"].get("fast", {}).get("status", "not asked for")
            run.results["batching"].update(status="skipped", reason=f"the fast preset's stage: {fast}")
    finally:
        run.save()
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    table = markdown(run.results)
    print(table)
    if args.out is not None:
        args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    return run.results


if __name__ == "__main__":
    main()
