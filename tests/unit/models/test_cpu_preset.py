"""The ``cpu`` preset (SD-Turbo + TAESD, translator, ruCLIP): what ``auto`` picks without a GPU.

Its tiny twin is built from the same classes (``UNet2DConditionModel``, ``CLIPTextModel``, ``AutoencoderTiny``,
MarianMT, CLIP) at tiny size, saved in the production layout, and put in the preset's place: everything else, from
``load_models("auto")`` to the painted picture, is the production code.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models import presets, tiny_families  # noqa: E402
from models.acceleration import GpuOptions  # noqa: E402
from models.device import cpu_quota, cpu_threads, native_bf16  # noqa: E402
from models.generator import ImageGenerator, known_defaults  # noqa: E402
from models.tiny import build_tiny_classifier  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]  # tests/unit/models/this file
PROMPT = "рыжий кот на окне"
# The tolerances docs/deploy.md states, in mean absolute difference per pixel channel (levels of 255) from the float32
# picture. bfloat16 keeps 8 bits of mantissa: the tiny twin moves by ~0.1 level (a real-size one more: measured by
# bench/cpu_preset.py); torch.compile and channels-last only reorder float32 sums.
BF16_MEAN_LEVELS = 1.0
COMPILE_MEAN_LEVELS = 0.5


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> presets.ModelPreset:
    """The `cpu` preset with its models replaced by tiny twins in the production layout."""
    root = tmp_path_factory.mktemp("cpu-twin")
    return dataclasses.replace(
        presets.PRESETS[presets.CPU],
        generator=str(tiny_families.build_tiny_sd_turbo(root / "sd-turbo")),
        decoder=str(tiny_families.build_tiny_taesd(root / "taesd")),
        translator=str(tiny_families.build_tiny_marian(root / "ru-en")),
        classifier=str(build_tiny_classifier(root / "classifier")),
    )


@pytest.fixture
def cpu_twin(twin, monkeypatch):
    monkeypatch.setitem(presets.PRESETS, presets.CPU, twin)
    return twin


@pytest.fixture
def photo():
    from PIL import Image

    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


# --- what auto picks ---------------------------------------------------------------------------------------------


def test_auto_without_a_gpu_picks_cpu_and_says_why(caplog):
    with caplog.at_level(logging.INFO, logger="models.presets"):
        plan = presets.plan_for_device("auto", "auto", "cpu")
    assert (plan.preset, plan.offload, plan.warn) == ("cpu", "none", False)
    assert "no CUDA or MPS device found, using 'cpu'" in caplog.text and "MODEL_PRESET=tiny" in caplog.text


def test_auto_with_a_gpu_never_picks_cpu_and_tiny_only_when_asked():
    cards = [presets.Card("cuda", "test card", gb / 2, True) for gb in range(4, 200)]
    assert presets.CPU not in {presets.plan_memory("auto", "auto", card).preset for card in cards}
    assert presets.plan_memory("tiny", "auto", None).preset == "tiny"
    small = presets.plan_memory("auto", "auto", presets.Card("cuda", "test card", 3.8, True))
    assert small.preset == "tiny" and "MODEL_DEVICE=cpu MODEL_PRESET=cpu" in small.reason


def test_the_preset_is_sd_turbo_with_taesd_the_translator_and_ruclip():
    cpu = presets.PRESETS[presets.CPU]
    assert (cpu.generator, cpu.decoder, cpu.classifier) == ("stabilityai/sd-turbo", presets.TAESD, presets.RUCLIP)
    assert not cpu.generator_reads_russian and cpu.channels_last == "auto"  # off on the CPU: measured slower
    defaults = known_defaults(cpu.generator)
    assert (defaults.steps, defaults.size, defaults.call_kwargs) == (1, (512, 512), {"guidance_scale": 0.0})
    assert known_defaults("stabilityai/sdxl-turbo").steps == 4  # the longer name is not taken for SD-Turbo


# --- the whole preset through the production loaders -----------------------------------------------------------


def test_auto_on_the_cpu_loads_the_cpu_preset_and_paints(cpu_twin, tmp_path, photo):
    loaded = presets.load_models("auto", tmp_path, device="cpu", threads=2)
    assert (loaded.preset.name, loaded.device, loaded.dtype) == ("cpu", "cpu", torch.float32)
    assert torch.get_num_threads() == 2
    pipe = loaded.generator.pipe
    assert type(pipe).__name__ == "StableDiffusionPipeline" and type(pipe.vae).__name__ == "AutoencoderTiny"
    assert str(pipe.vae.config._name_or_path) == cpu_twin.decoder  # the preset's decoder, not the repo's VAE
    assert not pipe.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert loaded.classifier.model.dtype == torch.float32 and loaded.translator is not None

    prompt, _ = loaded.generator_words(PROMPT, None)  # translated: SD-Turbo reads English
    steps = []
    (image,) = loaded.generator.generate(prompt, seed=7, on_step=lambda done, total: steps.append((done, total)))
    assert image.size == loaded.generator.default_size and steps == [(1, 1)]  # one step
    assert pixels(image).std() > 0
    (again,) = loaded.generator.generate(prompt, seed=7)
    assert np.array_equal(pixels(image), pixels(again))

    (variation,) = loaded.generator.vary(image, prompt, seed=8, strength=0.6)  # 1 step x 0.6 would run none
    assert variation.size == image.size and not np.array_equal(pixels(variation), pixels(image))
    labels = [label for label, _ in loaded.classifier.classify(photo, ["кошка", "собака"])]
    assert sorted(labels) == ["кошка", "собака"]


def test_the_warm_up_paints_in_the_models_one_step(cpu_twin, tmp_path, caplog):
    from models import warmup

    loaded = presets.load_models("cpu", tmp_path, device="cpu")
    steps = []
    original = loaded.generator.generate

    def generate(*args, **kwargs):
        steps.append(kwargs["steps"])
        return original(*args, **kwargs)

    loaded.generator.generate = generate
    with caplog.at_level(logging.INFO, logger="models.warmup"):
        warmup.warm_up(loaded)
    assert steps == [1] and "in 1 step, prompt translated took" in caplog.text


def test_an_explicit_channels_last_setting_wins_over_the_preset(cpu_twin, tmp_path):
    loaded = presets.load_models("cpu", tmp_path, device="cpu", gpu=GpuOptions(channels_last="on"))
    assert loaded.generator.pipe.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)


# --- speed settings: same pictures within the stated tolerance ---------------------------------------------------


def test_bfloat16_and_channels_last_paint_the_same_picture_within_tolerance(twin):
    plain = ImageGenerator.from_pretrained(twin.generator, decoder=twin.decoder)
    half = ImageGenerator.from_pretrained(
        twin.generator, dtype=torch.bfloat16, decoder=twin.decoder, gpu=GpuOptions(channels_last="on")
    )
    assert half.pipe.unet.dtype == torch.bfloat16 and half.pipe.vae.dtype == torch.bfloat16
    channels_last = ImageGenerator.from_pretrained(
        twin.generator, decoder=twin.decoder, gpu=GpuOptions(channels_last="on")
    )
    (expected,) = plain.generate("a red cat", seed=3)
    (actual,) = half.generate("a red cat", seed=3)
    (reordered,) = channels_last.generate("a red cat", seed=3)
    assert 0 < np.abs(pixels(actual) - pixels(expected)).mean() <= BF16_MEAN_LEVELS
    assert np.abs(pixels(reordered) - pixels(expected)).mean() <= COMPILE_MEAN_LEVELS


def test_cpu_dtype_setting_reaches_the_generator(cpu_twin, tmp_path):
    loaded = presets.load_models("cpu", tmp_path, device="cpu", gpu=GpuOptions(cpu_dtype="bfloat16"))
    assert loaded.dtype == torch.bfloat16 and loaded.generator.pipe.unet.dtype == torch.bfloat16
    assert loaded.classifier.model.dtype == torch.float32  # the small models stay in float32
    with pytest.raises(ValueError, match="cpu_dtype"):
        GpuOptions(cpu_dtype="float16")


X86_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
X86_AMX = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n"
X86_AVX512_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl avx512dq\n"


@pytest.mark.parametrize(
    ("cpuinfo", "native"), [(X86_BF16, True), (X86_AMX, True), (ARM_BF16, True), (X86_AVX512_ONLY, False)]
)
def test_native_bfloat16_is_read_from_the_cpu_s_flags(tmp_path, cpuinfo, native):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert native_bf16(path) is native
    assert native_bf16(tmp_path / "missing") is False  # not Linux: bfloat16 only when the operator asks


@pytest.mark.parametrize(
    ("preset", "native", "expected"),
    [("cpu", True, "bfloat16"), ("cpu", False, "float32"), ("tiny", True, "float32"), ("fast", True, "bfloat16")],
)
def test_auto_cpu_dtype_is_bfloat16_only_where_the_cpu_has_it(monkeypatch, preset, native, expected):
    monkeypatch.setattr("models.device.native_bf16", lambda: native)
    auto = GpuOptions(cpu_dtype="auto")
    assert presets.generator_dtype("cpu", auto, preset) == getattr(torch, expected)
    assert presets.generator_dtype("cpu", GpuOptions(cpu_dtype="float32"), preset) == torch.float32  # as asked


def test_auto_cpu_dtype_reaches_the_generator_of_the_cpu_preset(cpu_twin, tmp_path, monkeypatch):
    monkeypatch.setattr("models.device.native_bf16", lambda: True)
    loaded = presets.load_models("cpu", tmp_path, device="cpu", gpu=GpuOptions(cpu_dtype="auto"))
    assert loaded.generator.pipe.unet.dtype == torch.bfloat16


def test_the_worker_setting_defaults_to_auto(monkeypatch):
    from core.config import load
    from workers.config import ModelSettings

    monkeypatch.delenv("MODEL_CPU_DTYPE", raising=False)
    assert load(ModelSettings).cpu_dtype == "auto"


def test_torch_compile_on_the_cpu_paints_the_same_picture(twin):
    from models.acceleration import compile_toolchain_problem

    if compile_toolchain_problem("cpu"):
        pytest.skip(compile_toolchain_problem("cpu"))
    plain = ImageGenerator.from_pretrained(twin.generator, decoder=twin.decoder)
    compiled = ImageGenerator.from_pretrained(twin.generator, decoder=twin.decoder, gpu=GpuOptions(compile=True))
    (expected,) = plain.generate("a red cat", seed=3)
    (actual,) = compiled.generate("a red cat", seed=3)
    assert np.abs(pixels(actual) - pixels(expected)).mean() <= COMPILE_MEAN_LEVELS


# --- threads -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpu_max", "quota"), [("max 100000", None), ("150000 100000", 2), ("50000 100000", 1), (None, None)]
)
def test_the_cgroup_quota_is_read(tmp_path, cpu_max, quota):
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max + "\n")
    assert cpu_quota(path) == quota


def test_threads_are_the_allowed_cpus_capped_by_the_quota(tmp_path):
    import os

    allowed = len(os.sched_getaffinity(0))
    unlimited = tmp_path / "none"
    assert cpu_threads(0, unlimited) == allowed
    assert cpu_threads(3, unlimited) == 3  # MODEL_THREADS as set
    one = tmp_path / "cpu.max"
    one.write_text("100000 100000\n")
    assert cpu_threads(0, one) == 1


# --- the docs state the code's figures ---------------------------------------------------------------------------


def test_the_deploy_memory_table_states_the_cpu_figures():
    memory = presets.PRESETS[presets.CPU].host_memory
    rows = [line for line in (ROOT / "docs" / "deploy.md").read_text().splitlines() if line.startswith("| `cpu` |")]
    ram_rows = [row for row in rows if "GB RAM" in row]
    assert len(ram_rows) == 1, rows
    figures = [float(f) for f in re.findall(r"(\d+(?:\.\d+)?) GB RAM", ram_rows[0])]
    assert figures == [memory.weights, memory.worker, memory.worker_bf16]


# --- the benchmark -----------------------------------------------------------------------------------------------


def test_the_benchmark_configs_describe_the_real_sizes():
    """bench/configs/cpu builds SD-Turbo's published parameter counts (SD 2.1's UNet, OpenCLIP-H text) and TAESD's."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_check import count_parameters, model_class, random_model

    counts = count_parameters(ROOT / "bench" / "configs" / "cpu" / "sd-turbo")
    assert counts == {"unet": 865_910_724, "text_encoder": 340_387_840, "vae": 83_653_863}
    with torch.device("meta"):
        taesd = random_model("diffusers", model_class("diffusers", "AutoencoderTiny"), ROOT / "bench/configs/cpu/taesd")
    assert sum(p.numel() for p in taesd.parameters()) == 2_445_063


def test_the_benchmark_runs_on_the_tiny_twins(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "cpu_preset.json"
    command = [sys.executable, str(ROOT / "bench" / "cpu_preset.py"), "--toy", "--backends", "bf16", "--repeats", "1"]
    command += ["--workdir", str(tmp_path / "work"), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = json.loads(out.read_text())["records"]
    assert record["backend"] == "bf16" and record["dtype"] == "bfloat16", record
    stages = ("text_encoder_s", "unet_step_s", "decoder_s", "picture_s", "start_to_ready_s", "rss_ready_gb")
    assert all(record[stage] > 0 for stage in stages)
    assert 0 <= record["vs_fp32_levels"] <= BF16_MEAN_LEVELS
    assert "| bf16 |" in result.stdout
