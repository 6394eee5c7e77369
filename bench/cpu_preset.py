"""The `cpu` preset at its real size on this CPU: seconds a 512×512 picture, per stage and per backend, and RAM.

No weights are downloaded: SD-Turbo's UNet, OpenCLIP-H text encoder (and VAE, kept for the layout: the worker does
not load it), TAESD, MarianMT and ruCLIP are built from their published configs (``bench/configs/cpu``, the
translator's and ruCLIP's as `bench/gpu_check.py` uses them) with RANDOM weights, saved in the production layout
and loaded through `models.presets.load_models` with the `cpu` preset pointed at them. Random weights do the same
arithmetic as trained ones, so the times and the memory are the real preset's; the pictures are noise.

Each backend runs in a fresh process (so its RSS and its compiled kernels are its own):

- ``fp32``: float32, NCHW (``MODEL_CHANNELS_LAST=off``);
- ``channels-last``: float32, channels-last UNet and decoder (the preset's default);
- ``bf16``: ``MODEL_CPU_DTYPE=bfloat16`` with channels-last;
- ``compile``: float32, channels-last, ``MODEL_COMPILE=true`` (torch inductor; the warm-up pays the compile);
- ``bf16-compile``: both.

For each: start to ready (process start, imports, loading every model, the default label set's text embeddings,
one warm-up picture), the worker's RSS when ready and at its peak, and warm (median of ``--repeats``) the seconds of
each stage of one picture: the translator (ru→en), the text encoder, one UNet step, the TAESD decoder, the whole
picture through `ImageGenerator.generate` (what a job's painting costs), and ruCLIP's output check of it. The
translator's figure is an upper bound: with random weights it never writes its end token, so it decodes to its
length limit, where a trained one stops after a few words. Against
``fp32``, the mean absolute pixel difference of each backend's picture (same seed) is the tolerance figure. The
targets (issue #24, on two cores): a picture ≤ 3 s, RSS ≤ 6 GB.

    python bench/cpu_preset.py [--backends fp32,channels-last,bf16,compile,bf16-compile] [--repeats 3]
                               [--threads 0] [--workdir DIR] [--out cpu_preset.json] [--toy]

``--toy`` builds the tiny twins instead (seconds; for checking the script itself).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # start-to-ready counts the imports too

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIGS = REPO / "bench" / "configs"
BACKENDS = {
    "fp32": {"channels_last": "off"},
    "channels-last": {"channels_last": "on"},
    "bf16": {"channels_last": "on", "cpu_dtype": "bfloat16"},
    "compile": {"channels_last": "on", "compile": True},
    "bf16-compile": {"channels_last": "on", "cpu_dtype": "bfloat16", "compile": True},
}
PROMPT = "рыжий кот на подоконнике, акварель"
LABELS = ("кошка", "собака", "машина", "дом", "дерево")
TARGET_SECONDS = 3.0
TARGET_RSS_GB = 6.0
GB = 2**30  # as models.presets counts


# --- building the random real-size (or toy) models, once ---------------------------------------------------------


def build(workdir: Path, toy: bool) -> dict[str, str]:
    """The preset's model dirs under ``workdir`` (built unless there): generator, decoder, translator, classifier."""
    dirs = {
        "generator": workdir / "stabilityai--sd-turbo",  # the hub id's name: known_defaults match it (1 step, 512²)
        "decoder": workdir / "taesd",
        "translator": workdir / "opus-mt-ru-en",
        "classifier": workdir / "ruclip",
    }
    done = workdir / "built.json"
    if done.is_file() and json.loads(done.read_text()) == {"toy": toy}:
        return {name: str(path) for name, path in dirs.items()}
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    (build_toy if toy else build_real)(dirs, workdir)
    done.write_text(json.dumps({"toy": toy}))
    print(f"built the models in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return {name: str(path) for name, path in dirs.items()}


def build_real(dirs: dict[str, Path], workdir: Path) -> None:
    import gpu_check
    import torch

    build_painter(dirs["generator"], dirs["decoder"], toy=False)
    gpu_check.build_translator(CONFIGS / "translator", dirs["translator"], "cpu", torch.float32)
    configs = gpu_check.real_configs()
    gpu_check.build_ruclip(configs.ruclip_config, configs.bpe_model, dirs["classifier"], "cpu")


def build_toy(dirs: dict[str, Path], workdir: Path) -> None:
    from models import tiny_families
    from models.tiny import build_tiny_classifier

    build_painter(dirs["generator"], dirs["decoder"], toy=True)
    tiny_families.build_tiny_marian(dirs["translator"])
    build_tiny_classifier(dirs["classifier"])


def build_painter(generator: Path, decoder: Path, toy: bool) -> None:
    """The generator (SD-Turbo's layout) and its TAESD decoder: real-size random ones from ``bench/configs/cpu``, or
    the tiny twins; bench/outpaint.py builds only these."""
    if toy:
        from models import tiny_families

        tiny_families.build_tiny_sd_turbo(generator)
        tiny_families.build_tiny_taesd(decoder)
        return
    import gpu_check
    import torch
    from diffusers import AutoencoderTiny

    gpu_check.build_layout(CONFIGS / "cpu" / "sd-turbo", generator, "cpu", torch.float32)
    gpu_check.build_component(
        "diffusers", AutoencoderTiny.__name__, CONFIGS / "cpu" / "taesd", decoder, "cpu", torch.float32
    )


# --- one backend, in its own process ------------------------------------------------------------------------------


def rss_gb(field: str = "VmRSS") -> float:
    """This process's resident memory now (``RssFile``: the part that is file pages, e.g. weights still mapped from
    their safetensors files, which the kernel can drop and read again; ``RssAnon``: the rest)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) * 1024 / GB, 2)
    return float("nan")


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def stage_times(models, repeats: int) -> dict[str, float]:
    """Warm seconds of each stage of one default picture (and of the whole of it)."""
    import torch

    generator = models.generator
    pipe = generator.pipe
    english = models.generator_words(PROMPT, None)[0]
    width, height = generator.default_size
    with torch.inference_mode():
        embeddings, _ = pipe.encode_prompt(english, "cpu", 1, False)
        latents = torch.randn(1, pipe.unet.config.in_channels, height // 8, width // 8, dtype=pipe.unet.dtype)
        timestep = torch.tensor(999)

        def unet_step():
            pipe.unet(latents, timestep, encoder_hidden_states=embeddings, return_dict=False)

        def decode():
            pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)

        times = {
            "translator_s": median_seconds(lambda: models.generator_words(PROMPT, None), repeats),
            "text_encoder_s": median_seconds(lambda: pipe.encode_prompt(english, "cpu", 1, False), repeats),
            "unet_step_s": median_seconds(unet_step, repeats),
            "decoder_s": median_seconds(decode, repeats),
        }
    pictures = []
    times["picture_s"] = median_seconds(lambda: pictures.extend(generator.generate(english, seed=0)), repeats)
    times["output_check_s"] = median_seconds(lambda: models.classifier.classify(pictures[0], list(LABELS)), repeats)
    return times


def run_backend(name: str, dirs: dict[str, str], workdir: Path, repeats: int, threads: int) -> dict[str, Any]:
    """Load the preset with backend ``name`` as a worker does, warm it up and time it; save its picture."""
    import torch

    from models import presets
    from models.acceleration import GpuOptions

    presets.PRESETS[presets.CPU] = dataclasses.replace(presets.PRESETS[presets.CPU], **dirs)
    options = GpuOptions(**BACKENDS[name])
    models = presets.load_models("cpu", workdir / "model-cache", "cpu", gpu=options, threads=threads)
    loaded_s = time.perf_counter() - STARTED
    english = models.generator_words(PROMPT, None)[0]
    warm_up_started = time.perf_counter()
    models.generator.generate(english, seed=1)  # a worker's warm-up (MODEL_WARMUP): pays compile and first passes
    warm_up_s = time.perf_counter() - warm_up_started
    record: dict[str, Any] = {
        "backend": name,
        "dtype": str(models.dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        "start_to_ready_s": round(time.perf_counter() - STARTED, 1),
        "load_s": round(loaded_s, 1),
        "warm_up_s": round(warm_up_s, 1),
        "rss_ready_gb": rss_gb(),
        "rss_file_ready_gb": rss_gb("RssFile"),
    }
    record.update(stage_times(models, repeats))
    (picture,) = models.generator.generate(english, seed=0)
    picture.save(workdir / f"{name}.png")
    record["rss_peak_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB, 2)
    return record


# --- the parent: every backend, the comparison, the table ---------------------------------------------------------


def pixel_difference(workdir: Path, name: str) -> float | None:
    """Mean absolute difference per pixel channel (levels of 255) of ``name``'s picture from fp32's."""
    import numpy as np
    from PIL import Image

    reference, picture = workdir / "fp32.png", workdir / f"{name}.png"
    if not (reference.is_file() and picture.is_file()):
        return None
    a, b = (np.asarray(Image.open(path), dtype=np.float32) for path in (reference, picture))
    return round(float(np.abs(a - b).mean()), 2)


def spawn(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", name, "--workdir", str(args.workdir)]
    command += ["--repeats", str(args.repeats), "--threads", str(args.threads)] + (["--toy"] if args.toy else [])
    result = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout_s)
    if result.returncode != 0:
        return {"backend": name, "error": result.stderr.strip().splitlines()[-1:] or ["no output"]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def markdown(records: list[dict[str, Any]]) -> str:
    columns = [
        "backend",
        "text_encoder_s",
        "unet_step_s",
        "decoder_s",
        "picture_s",
        "translator_s",
        "output_check_s",
        "rss_ready_gb",
        "rss_file_ready_gb",
        "rss_peak_gb",
        "start_to_ready_s",
        "vs_fp32_levels",
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in records:
        lines.append("| " + " | ".join(str(record.get(column, record.get("error", ""))) for column in columns) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated, of: " + ", ".join(BACKENDS))
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per stage (the median is kept)")
    parser.add_argument("--threads", type=int, default=0, help="MODEL_THREADS (0: the CPUs this process may use)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/molbert-cpu-preset"), help="built models")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--timeout-s", type=int, default=1800, help="per backend")
    parser.add_argument("--toy", action="store_true", help="tiny twins instead of the real sizes")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO / "bench"))
    dirs = build(args.workdir, args.toy)
    if args.child:
        print(json.dumps(run_backend(args.child, dirs, args.workdir, args.repeats, args.threads)))
        return 0
    names = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = set(names) - set(BACKENDS)
    if unknown:
        print(f"unknown backends: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    records = []
    for name in ["fp32", *[name for name in names if name != "fp32"]]:  # fp32 first: the others are compared to it
        record = spawn(name, args)
        record["vs_fp32_levels"] = pixel_difference(args.workdir, name) if "error" not in record else None
        if name in names:
            records.append(record)
        print(json.dumps(record), file=sys.stderr, flush=True)
    summary = {
        "toy": args.toy,
        "targets": {"picture_s": TARGET_SECONDS, "rss_gb": TARGET_RSS_GB},
        "records": records,
    }
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(markdown(records))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
