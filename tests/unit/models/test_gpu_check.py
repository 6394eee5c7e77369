"""The GPU check (bench/gpu_check.py): run at toy sizes on the CPU so that it cannot rot before a GPU is lent, and
its real-size configs (bench/configs) checked against the published parameter counts without allocating them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from bench import gpu_check  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
MEMORY_FIELDS = (
    "cuda_context_gb",
    "peak_gb_offload_off",
    "peak_allocated_gb_offload_off",
    "peak_gb_offload_model",
    "peak_allocated_gb_offload_model",
)
TOY = ["--toy", "--device", "cpu", "--budget-s", "1500"]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """One toy run of every stage through ``main()``: (results, the JSON file it wrote)."""
    out = tmp_path_factory.mktemp("gpu-check") / "gpu_check.json"
    return gpu_check.main([*TOY, "--out", str(out)]), out


def assert_preset_measured(record: dict) -> None:
    """Every promised field is there, with values a measured toy preset must have."""
    assert set(gpu_check.PRESET_FIELDS) <= set(record)
    assert record["status"] == "ok", record["reason"]
    assert 0 < record["generator_weights_gb"] < record["weights_gb"] < 0.1  # classifier (+ translator) on top
    assert record["build_s"] >= 0 and record["load_s"] >= 0
    assert record["seconds_per_picture"] > 0
    assert record["default_size"] == [64, 64] and record["default_steps"] == 2  # the tiny models' molbert.json
    assert record["memory_measured"] is False
    assert all(record[key] is None for key in MEMORY_FIELDS)  # torch keeps no peak on a CPU: not measured
    assert record["seconds_per_picture_offload_model"] is None  # nothing to offload to on a CPU
    assert record["notes"] == []


def test_every_preset_is_built_loaded_and_measured(toy_run):
    results, out = toy_run
    assert list(results["presets"]) == list(gpu_check.REAL_PRESETS)
    for name, record in results["presets"].items():
        assert record["generator"] == gpu_check.PRESETS[name].generator
        assert_preset_measured(record)
    assert [stage["name"] for stage in results["stages"]] == ["classifier", "quality", "compact", "fast"]
    assert all(stage["status"] == "ok" and stage["seconds"] > 0 for stage in results["stages"])
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(json.dumps(results))
    assert results["toy"] is True and results["gpu"] == "no GPU" and results["dtype"] == "float32"


def test_classifier_throughput_and_bf16_drift_are_recorded(toy_run):
    classifier = toy_run[0]["classifier"]
    assert classifier["status"] == "ok"
    assert set(classifier["photos_per_s"]) == {"float32", "bfloat16"}
    for rates in classifier["photos_per_s"].values():
        assert set(rates) == {"1", "8"} and all(rate > 0 for rate in rates.values())
    drifts = classifier["drift_bf16_vs_fp32"]
    assert len(drifts) == 2
    for drift in drifts.values():
        assert 0 <= drift["max_abs_prob_diff"] < 0.5  # bf16 moves the probabilities, it does not scramble them
        assert 0 <= drift["top1_agreement"] <= 1


def test_the_batching_gain_of_the_fast_preset_is_recorded(toy_run):
    batching = toy_run[0]["batching"]
    assert batching["status"] == "ok" and batching["preset"] == "fast" and batching["steps"] == 2
    [row] = batching["rows"]
    assert row["requests"] == 2 and row["sequential_s"] > 0 and row["batched_s"] > 0 and row["gain"] > 0
    assert row["peak_gb_batched"] is None


def test_the_tables_for_the_docs_are_written_beside_the_json(toy_run):
    table = toy_run[1].with_suffix(".md").read_text(encoding="utf-8")
    assert "(TOY sizes)" in table
    for name in gpu_check.REAL_PRESETS:
        assert f"| {name} | ok |" in table
    assert "| float32 |" in table and "| bfloat16 |" in table and "bf16 vs fp32" in table
    assert "| 2 |" in table  # the batching row


def test_runs_as_a_script(tmp_path):
    out = tmp_path / "fast.json"
    done = subprocess.run(
        [sys.executable, "bench/gpu_check.py", *TOY, "--presets", "fast", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    assert list(results["presets"]) == ["fast"]
    assert_preset_measured(results["presets"]["fast"])
    assert results["classifier"]["status"] == "ok" and results["batching"]["status"] == "ok"
    assert "| fast | ok |" in done.stdout


def test_no_budget_skips_every_stage_and_keeps_every_field(tmp_path):
    out = tmp_path / "none.json"
    results = gpu_check.main(["--toy", "--device", "cpu", "--budget-s", "0", "--out", str(out)])
    for record in results["presets"].values():
        assert set(gpu_check.PRESET_FIELDS) <= set(record)
        assert record["status"] == "skipped" and record["reason"].startswith("budget: needs about")
        assert record["seconds_per_picture"] is None and record["weights_gb"] is None
    assert results["classifier"]["status"] == "skipped" and results["classifier"]["photos_per_s"] is None
    assert results["batching"]["status"] == "skipped" and results["batching"]["rows"] == []
    assert [stage["status"] for stage in results["stages"]] == ["skipped"] * 4
    assert json.loads(out.read_text(encoding="utf-8"))["presets"]["quality"]["status"] == "skipped"


def test_a_failing_stage_is_recorded_and_the_next_one_runs(tmp_path, monkeypatch):
    broken = gpu_check.Layout("no-such-config-dir", gpu_check.PRESETS["quality"].generator)
    monkeypatch.setitem(gpu_check.LAYOUTS, "quality", broken)
    out = tmp_path / "broken.json"
    results = gpu_check.main([*TOY, "--presets", "quality,compact", "--out", str(out)])
    quality = results["presets"]["quality"]
    assert quality["status"] == "error" and quality["reason"].startswith("FileNotFoundError")
    assert_preset_measured(results["presets"]["compact"])


# --- the real-size configs ---------------------------------------------------------------------------------

# Published sizes: exact where the model cards or diffusers give the count, else the rounded figure of the
# repositories' READMEs (Kandinsky 2.2: prior 1B, image encoder 1.8B, U-Net 1.22B, MoVQ 67M; Kandinsky 5.0 Image
# Lite: 6B; ruCLIP ViT-B/32-384: 150M; opus-mt: 77M), within 5 %.
EXACT = {
    ("fast", "unet"): 2_567_463_684,
    ("fast", "vae"): 83_653_863,
    ("fast", "text_encoder"): 123_060_480,
    ("fast", "text_encoder_2"): 694_659_840,
    ("compact/prior", "text_encoder"): 694_659_840,
    ("quality", "text_encoder"): 8_292_166_656,  # Qwen2.5-VL-7B-Instruct
    ("quality", "text_encoder_2"): 123_060_480,
}
ROUNDED = {
    ("compact/prior", "prior"): 1.0e9,
    ("compact/prior", "image_encoder"): 1.8e9,
    ("compact/decoder", "unet"): 1.22e9,
    ("compact/decoder", "movq"): 67e6,
    ("quality", "transformer"): 6.0e9,
    ("quality", "vae"): 84e6,  # FLUX.1's VAE
}


def test_the_real_configs_describe_the_published_sizes():
    """Built on the meta device: no memory, no weights; a wrong config value shows up as a wrong count."""
    counts = {
        (layout, name): count
        for layout in ("fast", "compact/prior", "compact/decoder", "quality")
        for name, count in gpu_check.count_parameters(gpu_check.CONFIGS / layout).items()
    }
    assert set(counts) == set(EXACT) | set(ROUNDED)
    for key, expected in EXACT.items():
        assert counts[key] == expected, key
    for key, expected in ROUNDED.items():
        assert counts[key] == pytest.approx(expected, rel=0.05), key


def test_every_preset_layout_is_in_the_repo():
    for name, layout in gpu_check.LAYOUTS.items():
        assert layout.generator_id == gpu_check.PRESETS[name].generator
        for folder in filter(None, (layout.generator, layout.prior)):
            index = json.loads((gpu_check.CONFIGS / folder / "model_index.json").read_text(encoding="utf-8"))
            for component, spec in index.items():
                if isinstance(spec, list) and spec[0]:  # every listed component has its folder
                    assert (gpu_check.CONFIGS / folder / component).is_dir(), (folder, component)


def test_the_real_size_translator_and_ruclip_run_through_the_production_loaders(tmp_path):
    """The two small real-size models, built on the CPU: the translator's 62518-token vocabulary with the stand-in
    tokenizer must still decode (ids beyond the tokenizer are shut out), ruCLIP must score."""
    from models.classifier import ZeroShotClassifier
    from models.translation import Translator

    configs = gpu_check.real_configs()
    count = gpu_check.build_translator(configs.root / "translator", tmp_path / "marian", "cpu", torch.float32)
    assert count == pytest.approx(77e6, rel=0.05)
    [english] = Translator.from_pretrained(str(tmp_path / "marian")).translate(["рыжий кот на окне"])
    assert isinstance(english, str)
    count = gpu_check.build_ruclip(configs.ruclip_config, configs.bpe_model, tmp_path / "ruclip", "cpu")
    assert count == pytest.approx(150e6, rel=0.05)
    classifier = ZeroShotClassifier.from_pretrained(str(tmp_path / "ruclip"))
    scores = classifier.classify(gpu_check.random_photos(1)[0], ["кошка", "собака"])
    assert sum(score for _label, score in scores) == pytest.approx(1.0, abs=1e-4)
    assert classifier.model.logit_scale.exp().item() == pytest.approx(100.0, rel=1e-4)
