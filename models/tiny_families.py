"""Tiny random models of every production family: Kandinsky 5, Kandinsky 2.2 (prior + decoder), SDXL, SD-Turbo
with its TAESD decoder, MarianMT, and the ✨ prompt writer (a Qwen2 causal LM).

Each builder makes the real classes from small configs with a fixed seed, tokenizers included (no hub access),
and saves them in the production layout, so tests load them through the same ``from_pretrained`` code as the
real weights. ``molbert.json`` beside a generator sets its defaults (see ``models.generator.known_defaults``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from models.prompt_writer import CHATML
from models.tiny import (
    HIDDEN,
    TINY_VERSION,
    _build_atomically,
    _seeded,
    _text_config,
    _tiny_scheduler,
    _tiny_unet,
    _tiny_vae,
    build_clip_tokenizer,
    bytes_to_unicode,
)

if TYPE_CHECKING:
    from transformers import Qwen2Tokenizer

TINY_STEPS = 2
TINY_SIZE = (64, 64)
# Kandinsky 5 generates only at the sizes it was trained on; the tiny one gets small ones.
KANDINSKY5_RESOLUTIONS = ((64, 64), (48, 96), (96, 48))
# Qwen2.5-VL config key -> its special token
QWEN_VISION_TOKENS = {
    "vision_start_token_id": "<|vision_start|>",
    "vision_end_token_id": "<|vision_end|>",
    "image_token_id": "<|image_pad|>",
    "video_token_id": "<|video_pad|>",
}
QWEN_SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>", *QWEN_VISION_TOKENS.values())
# Sentences for the tiny MarianMT tokenizer's SentencePiece models (source: Russian, target: English).
RU_CORPUS = ("рыжий кот сидит на окне", "собака бежит по полю", "дом у реки на закате", "кот в космосе, акварель")
EN_CORPUS = ("a red cat sits on the window", "a dog runs across the field", "a house by the river at sunset")
MARIAN_SPECIALS = ("</s>", "<unk>")


def write_defaults(path: Path, **defaults) -> None:
    """Write ``molbert.json`` (default steps, size, call kwargs, resolutions, reads_russian) into ``path``."""
    (Path(path) / "molbert.json").write_text(json.dumps(defaults), encoding="utf-8")


def build_qwen_tokenizer() -> Qwen2Tokenizer:
    """A byte-level Qwen2 tokenizer (no merges) with the chat and vision special tokens; reads any text."""
    from transformers import Qwen2Tokenizer

    alphabet = bytes_to_unicode()
    vocab = {alphabet[byte]: byte for byte in range(256)}
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[])
    tokenizer.add_special_tokens({"additional_special_tokens": list(QWEN_SPECIAL_TOKENS)})
    tokenizer.chat_template = CHATML  # as the real Qwen tokenizers carry theirs
    return tokenizer


def _qwen_encoder(tokenizer):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = {key: tokenizer.convert_tokens_to_ids(token) for key, token in QWEN_VISION_TOKENS.items()}
    special = {"bos_token_id": None, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN,
        "intermediate_size": HIDDEN,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "rope_scaling": {"mrope_section": [2, 2, 4], "rope_type": "default", "type": "default"},
        "rope_theta": 1000000.0,
        **special,
    }
    vision_config = {"depth": 1, "hidden_size": HIDDEN, "intermediate_size": HIDDEN, "num_heads": 2}
    config = Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config={**vision_config, "out_hidden_size": HIDDEN},
        vocab_size=len(tokenizer),
        **ids,
        **special,
    )
    return Qwen2_5_VLForConditionalGeneration(config)


def _kandinsky5_vae():
    from diffusers import AutoencoderKL

    # Four blocks: the pipeline assumes the VAE scales by 8.
    return AutoencoderKL(
        block_out_channels=(8, 8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=16,
        layers_per_block=1,
        norm_num_groups=8,
        mid_block_add_attention=False,
        use_quant_conv=False,
        use_post_quant_conv=False,
    )


def _mark_tokenizer_as_processor(path: Path) -> None:
    """Record the tokenizer as a ``Qwen2VLProcessor``, as the real repository does (its video half needs
    torchvision, so it cannot be built here; our loader reads that folder as a plain tokenizer anyway)."""
    index_file = path / "model_index.json"
    index = json.loads(index_file.read_text(encoding="utf-8"))
    index["tokenizer"] = ["transformers", "Qwen2VLProcessor"]
    index_file.write_text(json.dumps(index, indent=2), encoding="utf-8")


def build_tiny_kandinsky5(path: Path, seed: int = 0) -> Path:
    """Build a tiny random Kandinsky 5 text-to-image pipeline (Qwen2.5-VL + CLIP text encoders) into ``path``."""
    from diffusers import FlowMatchEulerDiscreteScheduler, Kandinsky5T2IPipeline, Kandinsky5Transformer3DModel
    from transformers import CLIPTextConfig, CLIPTextModel

    path = Path(path)
    tokenizer, clip_tokenizer = build_qwen_tokenizer(), build_clip_tokenizer()
    with _seeded(seed):
        pipe = Kandinsky5T2IPipeline(
            transformer=Kandinsky5Transformer3DModel(
                in_visual_dim=16,
                in_text_dim=HIDDEN,
                in_text_dim2=HIDDEN,
                time_dim=16,
                out_visual_dim=16,
                patch_size=(1, 2, 2),
                model_dim=16,
                ff_dim=32,
                num_text_blocks=1,
                num_visual_blocks=1,
                axes_dims=(4, 6, 6),
                visual_cond=False,
                attention_type="regular",
            ),
            vae=_kandinsky5_vae(),
            text_encoder=_qwen_encoder(tokenizer),
            tokenizer=tokenizer,
            text_encoder_2=CLIPTextModel(CLIPTextConfig(**_text_config(clip_tokenizer, 77))),
            tokenizer_2=clip_tokenizer,
            scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        )
    pipe.save_pretrained(path)  # type: ignore[attr-defined]  # diffusers' lazy imports hide the pipeline's methods
    _mark_tokenizer_as_processor(path)
    write_defaults(
        path,
        default_steps=TINY_STEPS,
        default_size=list(TINY_SIZE),
        resolutions=[list(size) for size in KANDINSKY5_RESOLUTIONS],
        reads_russian=True,
    )
    return path


def _kandinsky22_prior():
    from diffusers import KandinskyV22PriorPipeline, PriorTransformer, UnCLIPScheduler
    from transformers import (
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModelWithProjection,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    tokenizer = build_clip_tokenizer()
    prior = PriorTransformer(num_attention_heads=2, attention_head_dim=12, embedding_dim=HIDDEN, num_layers=1)
    prior.clip_std.data.fill_(1.0)  # initialised to 0, which would make every image embedding 0
    vision = CLIPVisionConfig(
        hidden_size=HIDDEN,
        projection_dim=HIDDEN,
        image_size=32,
        patch_size=8,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=1,
    )
    return KandinskyV22PriorPipeline(
        prior=prior,
        image_encoder=CLIPVisionModelWithProjection(vision),
        text_encoder=CLIPTextModelWithProjection(CLIPTextConfig(**_text_config(tokenizer, 77), projection_dim=HIDDEN)),
        tokenizer=tokenizer,
        scheduler=UnCLIPScheduler(
            variance_type="fixed_small_log", prediction_type="sample", clip_sample=True, clip_sample_range=10.0
        ),
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
    )


def _kandinsky22_decoder():
    from diffusers import DDPMScheduler, KandinskyV22Pipeline, UNet2DConditionModel, VQModel

    unet = UNet2DConditionModel(
        in_channels=4,
        out_channels=8,  # mean and variance
        addition_embed_type="image",
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        block_out_channels=(16, 32),
        layers_per_block=1,
        encoder_hid_dim=HIDDEN,
        encoder_hid_dim_type="image_proj",
        cross_attention_dim=HIDDEN,
        attention_head_dim=4,
        norm_num_groups=8,
        resnet_time_scale_shift="scale_shift",
    )
    movq = VQModel(
        block_out_channels=(32, 64),  # its spatial norm always uses 32 groups
        down_block_types=("DownEncoderBlock2D", "AttnDownEncoderBlock2D"),
        up_block_types=("AttnUpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        norm_type="spatial",
        num_vq_embeddings=12,
        vq_embed_dim=4,
    )
    scheduler = DDPMScheduler(beta_schedule="linear", beta_start=0.00085, beta_end=0.012, clip_sample=False)
    return KandinskyV22Pipeline(unet=unet, scheduler=scheduler, movq=movq)


def build_tiny_kandinsky22(path: Path, seed: int = 0) -> Path:
    """Build a tiny random Kandinsky 2.2 prior and decoder under ``path``; return the decoder's dir.

    As on the Hub, the decoder's model card names its prior (by absolute path here), so
    ``AutoPipelineForText2Image.from_pretrained(decoder)`` loads the combined pipeline. Moving the
    folder breaks that link.
    """
    path = Path(path).resolve()
    prior_dir, decoder_dir = path / "prior", path / "decoder"
    with _seeded(seed):
        prior, decoder = _kandinsky22_prior(), _kandinsky22_decoder()
    prior.save_pretrained(prior_dir)
    decoder.save_pretrained(decoder_dir)
    (decoder_dir / "README.md").write_text(f"---\nprior:\n- {prior_dir}\n---\nTiny random Kandinsky 2.2 decoder.\n")
    write_defaults(
        decoder_dir,
        default_steps=TINY_STEPS,
        default_size=list(TINY_SIZE),
        call_kwargs={"prior_num_inference_steps": TINY_STEPS},
        reads_russian=False,
    )
    return decoder_dir


def build_tiny_sdxl(path: Path, seed: int = 0) -> Path:
    """Build a tiny random SDXL pipeline set up like SDXL-Turbo (few steps, no guidance) into ``path``."""
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    path = Path(path)
    tokenizer = build_clip_tokenizer()
    text_config = CLIPTextConfig(**_text_config(tokenizer, 77), projection_dim=HIDDEN)
    time_embed_dim = 8
    with _seeded(seed):
        unet = UNet2DConditionModel(
            sample_size=32,
            in_channels=4,
            out_channels=4,
            block_out_channels=(8, 16),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=time_embed_dim,
            transformer_layers_per_block=(1, 1),
            projection_class_embeddings_input_dim=6 * time_embed_dim + HIDDEN,  # 6 size ids + pooled text
            cross_attention_dim=2 * HIDDEN,  # both text encoders' hidden states, concatenated
            norm_num_groups=4,
        )
        pipe = StableDiffusionXLPipeline(
            vae=_tiny_vae(),
            text_encoder=CLIPTextModel(text_config),
            text_encoder_2=CLIPTextModelWithProjection(text_config),
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=EulerAncestralDiscreteScheduler(timestep_spacing="trailing"),
        )
    pipe.save_pretrained(path)  # type: ignore[attr-defined]  # diffusers' lazy imports hide the pipeline's methods
    write_defaults(
        path,
        default_steps=TINY_STEPS,
        default_size=list(TINY_SIZE),
        call_kwargs={"guidance_scale": 0.0},
        reads_russian=False,
    )
    return path


def build_tiny_sd_turbo(path: Path, seed: int = 0) -> Path:
    """Build a tiny random SD-Turbo into ``path``: a Stable Diffusion pipeline (UNet, CLIP text encoder, VAE, Euler
    scheduler with trailing timesteps) that paints in one step without guidance, as the real one does."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel

    path = Path(path)
    tokenizer = build_clip_tokenizer()
    scheduler = EulerDiscreteScheduler.from_config(_tiny_scheduler().config, timestep_spacing="trailing")
    with _seeded(seed):
        pipe = StableDiffusionPipeline(
            vae=_tiny_vae(),
            text_encoder=CLIPTextModel(CLIPTextConfig(**_text_config(tokenizer, 77))),
            tokenizer=tokenizer,
            unet=_tiny_unet(),
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipe.save_pretrained(path)  # type: ignore[attr-defined]  # diffusers' lazy imports hide the pipeline's methods
    write_defaults(
        path, default_steps=1, default_size=list(TINY_SIZE), call_kwargs={"guidance_scale": 0.0}, reads_russian=False
    )
    return path


def build_tiny_taesd(path: Path, seed: int = 0) -> Path:
    """Build a tiny random ``AutoencoderTiny`` (TAESD's class: 4 latent channels, 8x scale) into ``path``."""
    from diffusers import AutoencoderTiny

    path = Path(path)
    with _seeded(seed):
        taesd = AutoencoderTiny(
            encoder_block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            num_encoder_blocks=(1, 1, 1, 1),
            num_decoder_blocks=(1, 1, 1, 1),
            latent_channels=4,
        )
    taesd.save_pretrained(path)  # type: ignore[attr-defined]  # diffusers' lazy imports hide the model's methods
    return path


def _train_spm(corpus: tuple[str, ...], prefix: Path, vocab_size: int) -> Path:
    """Train a small SentencePiece model on ``corpus`` (every character covered) and return its file."""
    import sentencepiece as spm

    text = prefix.with_suffix(".txt")
    text.write_text("\n".join(corpus * 4), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(text),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        minloglevel=2,
    )
    text.unlink()
    return prefix.with_suffix(".model")


def _marian_vocab(*spm_files: Path) -> dict[str, int]:
    """Marian's shared vocabulary: ``</s>`` = 0, ``<unk>`` = 1, every piece of both models, ``<pad>`` last."""
    import sentencepiece as spm

    pieces = list(MARIAN_SPECIALS)
    for spm_file in spm_files:
        model = spm.SentencePieceProcessor(model_file=str(spm_file))
        pieces += [model.id_to_piece(i) for i in range(model.get_piece_size()) if not model.is_control(i)]
    unique = list(dict.fromkeys([*pieces, "<pad>"]))
    return {piece: index for index, piece in enumerate(unique)}


def build_tiny_marian(path: Path, seed: int = 0) -> Path:
    """Build a tiny random MarianMT ru→en model with its SentencePiece tokenizer and save it to ``path``."""
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    source = _train_spm(RU_CORPUS, path / "tmp-source", 40)
    target = _train_spm(EN_CORPUS, path / "tmp-target", 40)
    vocab_file = path / "tmp-vocab.json"
    vocab_file.write_text(json.dumps(_marian_vocab(source, target)), encoding="utf-8")
    tokenizer = MarianTokenizer(str(source), str(target), str(vocab_file))
    pad = tokenizer.pad_token_id
    config = MarianConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=128,
        pad_token_id=pad,
        decoder_start_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    with _seeded(seed):
        model = MarianMTModel(config)
    model.generation_config.bad_words_ids = [[pad]]  # as in the opus-mt models: never generate padding
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    for tmp in path.glob("tmp-*"):
        tmp.unlink()
    return path


UPSCALER_FILE = "RealESRGAN_x{scale}.pth"


def build_tiny_upscaler(path: Path, seed: int = 0, *, scale: int = 4, blocks: int = 1, features: int = 8) -> Path:
    """A tiny random RRDBNet (ESRGAN) saved as the original Real-ESRGAN checkpoints are: a ``.pth`` whose
    ``params_ema`` holds ``conv_first``, ``body.N.rdbM.convK``, ``conv_body``, ``conv_up1/2``, ``conv_hr`` and
    ``conv_last``; spandrel tells its architecture and ``scale`` from those keys, as for the real ones. ×2 is
    Real-ESRGAN's: the picture pixel-unshuffled into 12 channels, then the ×4 network. Returns the file."""
    import torch

    growth, channels = 32, 3 * (16 // (scale * scale))  # spandrel reads the growth channels as fixed at 32
    shapes = {"conv_first": (features, channels)}
    for block in range(blocks):
        for rdb in (1, 2, 3):
            for conv in range(1, 6):
                inputs = features + (conv - 1) * growth
                shapes[f"body.{block}.rdb{rdb}.conv{conv}"] = (features if conv == 5 else growth, inputs)
    shapes |= {name: (features, features) for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr")}
    shapes["conv_last"] = (3, features)
    state = {}
    with _seeded(seed):
        for name, (out, inputs) in shapes.items():
            # weights scaled to the fan-in: a random network whose output varies inside 0..1, neither flat nor clamped
            state[f"{name}.weight"] = torch.randn(out, inputs, 3, 3) * (1.0 / (inputs * 9) ** 0.5)
            state[f"{name}.bias"] = torch.full((out,), 0.5) if name == "conv_last" else torch.zeros(out)
    path.mkdir(parents=True, exist_ok=True)
    file = path / UPSCALER_FILE.format(scale=scale)
    torch.save({"params_ema": state}, file)
    return file


PROMPT_WRITER_DIR = f"tiny-prompt-writer-v{TINY_VERSION}"


def ensure_tiny_prompt_writer(cache_dir: Path) -> Path:
    """Build the tiny preset's prompt writer under ``cache_dir`` unless present; return its dir."""
    return _build_atomically(Path(cache_dir) / PROMPT_WRITER_DIR, build_tiny_prompt_writer)


def build_tiny_prompt_writer(path: Path, seed: int = 0) -> Path:
    """Build a tiny random Qwen2 causal LM (the class of Qwen2.5-Instruct, the default ✨ prompt writer) with the
    tiny Qwen tokenizer and its chat template into ``path``, loaded back by ``AutoModelForCausalLM``. Its answers are
    random bytes: what the cleaning and the fallback to the user's own words must survive."""
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    tokenizer = build_qwen_tokenizer()
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=end,
        pad_token_id=tokenizer.pad_token_id,
    )
    with _seeded(seed):
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=end, pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
