"""``MODEL_PRESET=auto`` and ``MODEL_CPU_OFFLOAD=auto``: which preset and offload a worker gets on each card.

No GPU here: the card is either described directly (``presets.Card``, for the pure choice) or torch's CUDA queries
are replaced with what a real card of that size reports (``total_memory`` in bytes, bf16 support), so that the
production path from ``torch.cuda`` to the chosen preset runs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from models import presets  # noqa: E402
from models.acceleration import GpuOptions  # noqa: E402
from models.presets import Card, plan_memory  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
GiB = 2**30


def card(memory: float, bf16: bool = True, *, mps: bool = False) -> Card:
    return Card("mps" if mps else "cuda", "test card", memory, bf16, can_offload=not mps)


# (card, GB as torch reports its total, computes in bf16, chosen preset, chosen offload)
CARDS = [
    ("4 GB", 3.8, True, "tiny", "none"),  # nothing fits, even with offload
    ("6 GB (RTX 2060)", 5.8, False, "compact", "model"),  # only compact's largest model fits at a time
    ("8 GB (RTX 3070)", 7.8, True, "fast", "model"),  # fast needs ~9.6 GB with all of it on the card
    ("8 GB fp16 (RTX 2080)", 7.8, False, "fast", "model"),  # the float32 VAE decode adds nothing with offload
    ("10 GB (RTX 3080)", 9.8, True, "fast", "none"),
    ("11 GB fp16 (RTX 2080 Ti)", 10.7, False, "fast", "none"),  # with the float32 VAE decode: 10.4 GB
    ("12 GB (RTX 3060)", 11.8, True, "fast", "none"),  # compact needs ~12.8 GB
    ("16 GB fp16 (T4)", 14.6, False, "compact", "none"),
    ("16 GB (RTX A4000)", 15.7, True, "compact", "none"),
    ("24 GB (RTX A5000)", 23.6, True, "compact", "none"),  # quality would need model offload: not by itself
    ("32 GB fp16 (V100)", 31.7, False, "compact", "none"),
    ("40 GB (A100)", 39.4, True, "quality", "none"),
    ("48 GB (L40S)", 47.5, True, "quality", "none"),
    ("80 GB (H100)", 79.2, True, "quality", "none"),
]


@pytest.mark.parametrize(("label", "memory", "bf16", "preset", "offload"), CARDS, ids=[c[0] for c in CARDS])
def test_auto_picks_the_best_preset_that_fits_the_whole_worker(label, memory, bf16, preset, offload):
    plan = plan_memory("auto", "auto", card(memory, bf16))
    assert (plan.preset, plan.offload) == (preset, offload)
    if preset != "tiny":
        needed = presets.PRESETS[preset].memory.needed(offload=offload != "none", bf16=bf16)
        assert needed <= memory, "the chosen preset fits by the table"
        assert f"{needed:.1f} GB" in plan.reason and "test card" in plan.reason and f"{memory:.1f} GB" in plan.reason


def test_without_offload_a_bigger_card_never_gets_a_worse_preset():
    rank = {"tiny": 0, "fast": 1, "compact": 2, "quality": 3}
    chosen = [plan_memory("auto", "auto", card(gb / 10)) for gb in range(10, 1000, 5)]
    plain = [rank[plan.preset] for plan in chosen if plan.offload == "none" and plan.preset != "tiny"]
    assert plain == sorted(plain)
    assert {plan.preset for plan in chosen} == {"tiny", "fast", "compact", "quality"}


def test_the_log_line_says_why_and_warns_when_nothing_fits(caplog):
    with caplog.at_level(logging.INFO, logger="models.presets"):
        plan = presets.plan_for_device("auto", "auto", "cpu")
    assert (plan.preset, plan.offload) == ("cpu", "none") and "no CUDA or MPS device found" in caplog.text
    small = plan_memory("auto", "auto", card(3.8))
    assert small.warn and "MODEL_CPU_OFFLOAD=sequential" in small.reason
    fits = plan_memory("auto", "auto", card(7.8))
    assert not fits.warn
    assert "fast needs 9.6 GB without offload (estimate)" in fits.reason
    assert "fast needs 7.2 GB with model offload (estimate)" in fits.reason
    assert fits.reason.endswith("using 'fast' with MODEL_CPU_OFFLOAD=model")


@pytest.mark.parametrize(
    ("memory", "offload", "preset"),
    [
        (23.6, "model", "quality"),  # the operator accepts offload: the best that fits with it
        (15.7, "model", "compact"),
        (7.8, "sequential", "compact"),  # judged by model offload's higher figure
        (11.8, "none", "fast"),
        (7.8, "none", "tiny"),  # offload forbidden and nothing fits without it
    ],
)
def test_an_explicit_offload_is_kept_and_auto_picks_what_fits_with_it(memory, offload, preset):
    plan = plan_memory("auto", offload, card(memory))
    assert (plan.preset, plan.offload) == (preset, offload if preset != "tiny" else "none")


@pytest.mark.parametrize(
    ("preset", "memory", "offload", "warn"),
    [
        ("fast", 11.8, "none", False),
        ("fast", 7.8, "model", False),  # auto offload for a chosen preset that does not fit without it
        ("quality", 23.6, "model", False),
        ("quality", 15.7, "model", True),  # the closest it gets; the warning names sequential offload
        ("compact", 5.0, "model", True),
    ],
)
def test_auto_offload_for_a_chosen_preset(preset, memory, offload, warn):
    plan = plan_memory(preset, "auto", card(memory))
    assert (plan.preset, plan.offload, plan.warn) == (preset, offload, warn)


def test_an_explicit_offload_for_a_chosen_preset_is_kept_with_a_warning_if_it_will_not_fit():
    plan = plan_memory("quality", "none", card(23.6))
    assert (plan.preset, plan.offload, plan.warn) == ("quality", "none", True)
    assert "may run out of memory" in plan.reason
    roomy = plan_memory("fast", "model", card(79.2))  # fits without, but the operator asked for it
    assert (roomy.offload, roomy.warn) == ("model", False)


def test_no_offload_on_mps_or_the_cpu():
    assert plan_memory("auto", "auto", card(10.7, False, mps=True)).preset == "fast"
    mac = plan_memory("auto", "auto", card(7.0, False, mps=True))
    assert (mac.preset, mac.offload) == ("tiny", "none")  # unified memory: offload would free nothing
    assert plan_memory("fast", "auto", card(7.0, False, mps=True)).offload == "none"
    assert plan_memory("fast", "auto", None).offload == "none"
    assert plan_memory("tiny", "auto", card(79.2)).offload == "none"


# --- through torch's CUDA queries, as on a real card ---------------------------------------------------------------


@pytest.fixture
def cuda_card(monkeypatch):
    """Makes torch report one CUDA card of ``total`` bytes (bf16 or not); returns the setter."""

    def install(total: int, bf16: bool = True, name: str = "NVIDIA Test") -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16)
        monkeypatch.setattr(
            torch.cuda, "get_device_properties", lambda device=None: SimpleNamespace(name=name, total_memory=total)
        )

    return install


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (12 * GiB, "fast"),  # a 12 GB card: compact (~12.8 GB) does not fit; 12.9 "GB" of 10^9 bytes did
        (6 * GiB, "compact"),  # with model offload; nothing was picked for 6 GB before
        (16 * GiB, "compact"),
        (80 * GiB, "quality"),
    ],
)
def test_auto_reads_the_card_from_torch(cuda_card, tmp_path, total, expected):
    cuda_card(total)
    assert presets.resolve_preset("auto", tmp_path, device="cuda").name == expected


def test_the_chosen_offload_reaches_the_generator_loader(cuda_card, tmp_path, monkeypatch, caplog):
    """An 8 GB card: the worker loads `fast` with model offload, and the log line says why."""
    from models.generator import ImageGenerator

    class Stop(Exception):
        pass

    loaded = {}

    def from_pretrained(model, **kwargs):
        loaded.update(kwargs, model=model)
        raise Stop  # the real weights are not here: what matters is what the loader was asked for

    cuda_card(8 * GiB, name="NVIDIA GeForce RTX 3070")
    monkeypatch.setattr(ImageGenerator, "from_pretrained", from_pretrained)
    with caplog.at_level(logging.INFO, logger="models.presets"), pytest.raises(Stop):
        presets.load_models("auto", tmp_path, device="cuda", gpu=GpuOptions(cpu_offload="auto", compile=True))
    assert loaded["model"] == presets.PRESETS["fast"].generator
    assert loaded["gpu"] == GpuOptions(cpu_offload="model", compile=True)
    assert "NVIDIA GeForce RTX 3070, 8.0 GB" in caplog.text and "MODEL_CPU_OFFLOAD=model" in caplog.text


def test_gpu_plan_keeps_an_explicit_offload_and_leaves_a_custom_generator_alone(cuda_card):
    cuda_card(8 * GiB)
    assert presets.gpu_plan("fast", GpuOptions(cpu_offload="none"), "cuda") == ("fast", GpuOptions())
    assert presets.gpu_plan("fast", None, "cuda") == ("fast", GpuOptions(cpu_offload="model"))
    custom = presets.gpu_plan("fast", None, "cuda", generator="black-forest-labs/FLUX.1-schnell")
    assert custom == ("fast", GpuOptions(cpu_offload="none"))  # the table does not describe that model


def test_model_cpu_offload_defaults_to_auto(monkeypatch, tmp_path):
    from core.config import load
    from workers.config import ModelSettings

    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.delenv("MODEL_CPU_OFFLOAD", raising=False)
    assert load(ModelSettings).cpu_offload == "auto"
    monkeypatch.setenv("MODEL_CPU_OFFLOAD", "none")
    assert load(ModelSettings).cpu_offload == "none"


# --- one table: the docs cite the code's figures ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["fast", "compact", "quality"])
def test_the_deploy_vram_table_states_the_code_figures(name):
    memory = presets.PRESETS[name].memory
    rows = [line for line in (ROOT / "docs" / "deploy.md").read_text().splitlines() if line.startswith(f"| `{name}` |")]
    vram_rows = [row for row in rows if "GB" in row]
    assert len(vram_rows) == 1, rows
    figures = re.findall(r"(\d+(?:\.\d+)?) GB", vram_rows[0])
    expected = [memory.weights, memory.needed(offload=False), memory.needed(offload=True)]
    assert [float(f) for f in figures[:3]] == expected
    if memory.fp16_extra:
        assert f"{memory.needed(offload=False, bf16=False):.1f} GB on float16 cards" in vram_rows[0]
