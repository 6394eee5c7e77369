"""``python -m workers download``: which repositories each preset fetches, with only the Hub call replaced."""

from __future__ import annotations

import huggingface_hub
import huggingface_hub.constants
import pytest
from huggingface_hub.utils import filter_repo_objects

from models.presets import DEFAULT_PROMPT_WRITER, PRESETS, REAL_ESRGAN_X4, RU_EN_TRANSLATOR, RUCLIP, TAESD
from workers import download
from workers.__main__ import main as workers_main

DECODER = "kandinsky-community/kandinsky-2-2-decoder"
PRIOR = "kandinsky-community/kandinsky-2-2-prior"
UPSCALER = REAL_ESRGAN_X4.split(":")[0]  # one file of Sber's Real-ESRGAN repository


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in (
        "MODEL_PRESET",
        "MODEL_GENERATOR",
        "MODEL_TRANSLATOR",
        "MODEL_CLASSIFIER",
        "MODEL_CACHE_DIR",
        "MODEL_PROMPT_WRITER",
    ):
        monkeypatch.delenv(name, raising=False)
    # what is fetched; the OpenVINO conversion that follows on a machine without a GPU is tested with the models
    # (tests/unit/models/test_openvino_backend.py): these snapshots hold no weights
    monkeypatch.setenv("MODEL_CPU_BACKEND", "torch")
    monkeypatch.chdir(tmp_path)  # no developer .env


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """Stands in for the network call: records each snapshot_download and returns a local snapshot dir."""
    calls: list[dict] = []

    def snapshot_download(repo_id, *, allow_patterns=None, ignore_patterns=None):
        calls.append({"repo_id": repo_id, "allow": allow_patterns, "ignore": ignore_patterns})
        snapshot = tmp_path / "hub" / repo_id.replace("/", "--")
        snapshot.mkdir(parents=True, exist_ok=True)
        if repo_id == DECODER:  # its model card names the prior, as on the Hub
            (snapshot / "README.md").write_text(f"---\nlicense: apache-2.0\nprior:\n- {PRIOR}\n---\n# Kandinsky 2.2\n")
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return calls


def test_arguments():
    assert download.parse_args([]).preset is None
    assert download.parse_args(["--preset", "fast"]).preset == "fast"
    with pytest.raises(SystemExit) as exc:
        download.parse_args(["--preset", "huge"])
    assert exc.value.code == 2


def test_tiny_has_nothing_to_download(hub, capsys):
    assert workers_main(["download", "--preset", "tiny"]) == 0
    assert "nothing to download" in capsys.readouterr().out
    assert hub == []


def test_the_preset_defaults_to_model_preset(hub, monkeypatch, capsys):
    monkeypatch.setenv("MODEL_PRESET", "tiny")
    assert workers_main(["download"]) == 0
    assert "preset tiny: nothing to download" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("preset", "repos"),
    [
        ("quality", [PRESETS["quality"].generator, RUCLIP, UPSCALER]),  # reads Russian: no translator
        (
            "compact",
            [DECODER, RUCLIP, RU_EN_TRANSLATOR, UPSCALER, DEFAULT_PROMPT_WRITER, PRIOR],
        ),  # the decoder's card connects the prior
        ("fast", ["stabilityai/sdxl-turbo", RUCLIP, RU_EN_TRANSLATOR, UPSCALER, DEFAULT_PROMPT_WRITER]),
    ],
)
def test_a_preset_fetches_its_generator_classifier_and_translator(hub, preset, repos, capsys):
    assert workers_main(["download", "--preset", preset]) == 0
    assert [call["repo_id"] for call in hub] == repos
    by_repo = {call["repo_id"]: call for call in hub}
    assert by_repo[RUCLIP]["allow"] == ["bpe.model", "config.json", "pytorch_model.bin"]
    generator = by_repo[repos[0]]
    assert "*/*" in generator["allow"] and "model_index.json" in generator["allow"]
    assert "*.onnx" in generator["ignore"] and "*.bf16.*" in generator["ignore"]
    assert ("*.fp16.*" in generator["ignore"]) == (preset != "fast")  # SDXL-Turbo: the fp16 files instead
    assert f"preset {preset}: {len(repos)} repositories" in capsys.readouterr().out


# The weight files of a diffusers repo with fp16 variants (SDXL-Turbo's layout), as the Hub lists them.
WEIGHTS_FP32 = [
    "text_encoder/model.safetensors",
    "text_encoder_2/model.safetensors",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
    "unet/diffusion_pytorch_model.safetensors.index.json",
]
WEIGHTS_FP16 = [
    "text_encoder/model.fp16.safetensors",
    "text_encoder_2/model.fp16.safetensors",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "vae/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model-00001-of-00002.fp16.safetensors",
    "unet/diffusion_pytorch_model.safetensors.index.fp16.json",
]
REPO_FILES = [
    "model_index.json",
    "README.md",
    "sd_xl_turbo_1.0_fp16.safetensors",  # single-file checkpoints: never read by the loader
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "tokenizer/vocab.json",
    "tokenizer/merges.txt",
    "unet/config.json",
    "vae/config.json",
    "vae/diffusion_pytorch_model.ema.safetensors",
    "vae_decoder/model.onnx",
    *WEIGHTS_FP32,
    *WEIGHTS_FP16,
]
CONFIGS = [
    "model_index.json",
    "README.md",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "tokenizer/vocab.json",
    "tokenizer/merges.txt",
    "unet/config.json",
    "vae/config.json",
]


def kept(download_: download.Download) -> list[str]:
    """The files of REPO_FILES that snapshot_download fetches with these patterns (huggingface_hub's own filter)."""
    return list(
        filter_repo_objects(
            REPO_FILES, allow_patterns=download_.allow_patterns, ignore_patterns=download_.ignore_patterns
        )
    )


def test_sdxl_turbo_is_fetched_as_its_fp16_variant_only():
    (generator, *_) = download.plan("fast", "unused")
    assert generator.repo_id == "stabilityai/sdxl-turbo" and "fp16" in generator.role
    assert sorted(kept(generator)) == sorted(CONFIGS + WEIGHTS_FP16)


@pytest.mark.parametrize("repo", ["kandinsky-community/kandinsky-2-2-decoder", "black-forest-labs/FLUX.1-schnell"])
def test_a_pipeline_without_a_known_variant_gets_the_default_weights_only(repo):
    assert sorted(kept(download.pipeline_download(repo, "generator"))) == sorted(CONFIGS + WEIGHTS_FP32)


def test_the_ruclip_file_list_matches_the_loader():
    from models.ruclip import RUCLIP_FILES

    assert list(RUCLIP_FILES) == download.RUCLIP_FILES


def test_model_generator_and_translator_overrides_are_fetched(hub, monkeypatch):
    monkeypatch.setenv("MODEL_GENERATOR", "black-forest-labs/FLUX.1-schnell")
    monkeypatch.setenv("MODEL_TRANSLATOR", "my-org/opus-mt-ru-en-finetuned")
    assert workers_main(["download", "--preset", "fast"]) == 0
    assert [call["repo_id"] for call in hub] == [
        "black-forest-labs/FLUX.1-schnell",
        RUCLIP,
        "my-org/opus-mt-ru-en-finetuned",
        UPSCALER,
        DEFAULT_PROMPT_WRITER,
    ]


def test_quality_shares_kandinskys_text_encoder_as_its_prompt_writer(hub):
    assert workers_main(["download", "--preset", "quality"]) == 0
    assert DEFAULT_PROMPT_WRITER not in [call["repo_id"] for call in hub]


def test_model_prompt_writer_is_fetched_and_off_fetches_none(hub, monkeypatch):
    monkeypatch.setenv("MODEL_PROMPT_WRITER", "Qwen/Qwen2.5-1.5B-Instruct")
    assert workers_main(["download", "--preset", "fast"]) == 0
    assert [call["repo_id"] for call in hub][-1] == "Qwen/Qwen2.5-1.5B-Instruct"
    assert "*.onnx" in hub[-1]["ignore"]
    hub.clear()
    monkeypatch.setenv("MODEL_PROMPT_WRITER", "off")
    assert workers_main(["download", "--preset", "fast"]) == 0
    assert [call["repo_id"] for call in hub] == ["stabilityai/sdxl-turbo", RUCLIP, RU_EN_TRANSLATOR, UPSCALER]


def test_model_classifier_is_fetched_instead_of_the_presets(hub, monkeypatch):
    large = "ai-forever/ruclip-vit-large-patch14-336"
    monkeypatch.setenv("MODEL_CLASSIFIER", large)
    assert workers_main(["download", "--preset", "quality"]) == 0
    assert [call["repo_id"] for call in hub] == [PRESETS["quality"].generator, large, UPSCALER]
    assert hub[1]["allow"] == ["bpe.model", "config.json", "pytorch_model.bin"]  # ruCLIP's three files only


def test_tiny_with_a_hub_classifier_fetches_only_the_classifier(hub, monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MODEL_CLASSIFIER", "google/siglip-base-patch16-256-multilingual")
    assert workers_main(["download", "--preset", "tiny"]) == 0
    assert [call["repo_id"] for call in hub] == ["google/siglip-base-patch16-256-multilingual"]


def test_local_directories_are_not_downloaded(hub, monkeypatch, tmp_path):
    local = tmp_path / "my-generator"
    local.mkdir()
    monkeypatch.setenv("MODEL_GENERATOR", str(local))
    assert workers_main(["download", "--preset", "quality"]) == 0
    # unknown models get translated prompts
    assert [call["repo_id"] for call in hub] == [RUCLIP, RU_EN_TRANSLATOR, UPSCALER]


def test_offline_mode_only_checks_the_cache(hub, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert workers_main(["download", "--preset", "quality"]) == 0
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().out


def test_a_failed_download_exits_1(monkeypatch, capsys):
    def unreachable(repo_id, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    assert workers_main(["download", "--preset", "fast"]) == 1
    assert "download failed: OSError: network is unreachable" in capsys.readouterr().err


def test_cpu_fetches_sd_turbo_fp16_without_its_vae_and_the_taesd_decoder(hub, capsys):
    """SD-Turbo's VAE is replaced by TAESD: its folder is not fetched, TAESD's diffusers files are."""
    assert workers_main(["download", "--preset", "cpu"]) == 0
    assert [call["repo_id"] for call in hub] == [
        "stabilityai/sd-turbo",
        TAESD,
        RUCLIP,
        RU_EN_TRANSLATOR,
        UPSCALER,
        DEFAULT_PROMPT_WRITER,
    ]
    generator, decoder = hub[0], hub[1]
    files = ["unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.safetensors"]
    files += ["text_encoder/model.fp16.safetensors", "vae/diffusion_pytorch_model.fp16.safetensors"]
    files += ["vae/config.json", "unet/config.json", "model_index.json", "sd_turbo.safetensors"]
    kept = list(filter_repo_objects(files, allow_patterns=generator["allow"], ignore_patterns=generator["ignore"]))
    expected = ["unet/diffusion_pytorch_model.fp16.safetensors", "text_encoder/model.fp16.safetensors"]
    assert kept == [*expected, "unet/config.json", "model_index.json"]
    taesd = ["config.json", "diffusion_pytorch_model.safetensors", "taesd_decoder.pth", "taesd_encoder.pth"]
    assert list(filter_repo_objects(taesd, allow_patterns=decoder["allow"])) == taesd[:2]
    assert "preset cpu: 6 repositories" in capsys.readouterr().out


def test_a_custom_generator_on_cpu_gets_its_own_vae():
    downloads = download.plan("cpu", download.Path("."), generator="someone/other-sd")
    assert [d.repo_id for d in downloads][:1] == ["someone/other-sd"] and TAESD not in [d.repo_id for d in downloads]
    assert "vae/*" not in downloads[0].ignore_patterns


def test_auto_on_a_machine_without_a_gpu_fetches_the_cpu_preset(hub, capsys):
    """No --preset, MODEL_PRESET unset (auto), no CUDA or MPS here: what the worker would load, `cpu`."""
    assert workers_main(["download"]) == 0
    assert [call["repo_id"] for call in hub] == [
        "stabilityai/sd-turbo",
        TAESD,
        RUCLIP,
        RU_EN_TRANSLATOR,
        UPSCALER,
        DEFAULT_PROMPT_WRITER,
    ]
    assert "preset auto: 6 repositories" in capsys.readouterr().out


def test_the_upscaler_is_one_file_of_its_repository_and_off_or_local_is_none(hub, monkeypatch, tmp_path):
    """MODEL_UPSCALER: ``<hub id>:<file>`` fetches that file alone; ``off`` and a local file fetch nothing."""
    monkeypatch.setenv("MODEL_UPSCALER", "someone/sr-models:4x-UltraSharp.pth")
    assert workers_main(["download", "--preset", "fast"]) == 0
    [upscaler] = [call for call in hub if call["repo_id"] == "someone/sr-models"]
    assert list(filter_repo_objects(["4x-UltraSharp.pth", "other.pth"], allow_patterns=upscaler["allow"])) == [
        "4x-UltraSharp.pth"
    ]
    local = tmp_path / "mine.pth"
    local.write_bytes(b"")
    for source in ("off", str(local)):
        assert "upscaler" not in [d.role for d in download.plan("fast", tmp_path, upscaler=source)]
