#!/usr/bin/env python3
"""
Builds the tiny random-weight Qwen2.5-VL in Hugging Face form that the parity goldens run on, and
converts it back to GGUF with llama.cpp's own converter.

The weights are not drawn here: they are *our* tiny test model's (src/gguf/tiny-model.ts with
parity/tiny-model-options.ts: TINY shapes with a 4-block vision tower, f32, seed 1; test/addon/parity.test.ts
regenerates the same bytes), read from its GGUF and put into a `Qwen2_5_VLForConditionalGeneration` built from the matching config. That
way the model-level goldens apply to the GGUF that CI regenerates without Python, and converting
the HF checkpoint with `convert_hf_to_gguf.py` must give back the same tensors (checked below:
a cross-check of our GGUF writer against the official converter).

The tokenizer is our tiny byte-level BPE vocabulary (src/gguf/tokenizer.ts `buildQwenVocab`: 256
byte tokens, 400 merges, Qwen's 22 added tokens) written as a Qwen2 `tokenizer.json` (qwen2 split
regex, byte-level, NFC), so both sides tokenize with the same vocabulary.

Outputs (parity/.out/, git-ignored):
  ours/        our GGUF pair (npx tsx parity/export-ours.ts)
  hf/          save_pretrained checkpoint + tokenizer + processor configs
  converted/   tiny-f32.gguf and mmproj-tiny-f32.gguf from convert_hf_to_gguf.py
  convert-check.json   tensor-by-tensor comparison of converted/ with ours/

Usage: parity/.venv/bin/python parity/make_tiny_hf.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "parity" / ".out"
LLAMA = ROOT / "deps" / "llama.cpp"
sys.path.insert(0, str(LLAMA / "gguf-py"))

import gguf  # noqa: E402  (the pinned tree's gguf-py)
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

# The stock Qwen2.5-VL chat template (chat_template.json of Qwen2.5-VL-7B-Instruct).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen2's pre-tokenizer split, exactly as in Qwen2.5's tokenizer.json.
QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

CONTROL, USER_DEFINED = 3, 4


def field(reader: gguf.GGUFReader, key: str):
    f = reader.fields[key]
    t = f.types[0]
    if t == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode()
    if t == gguf.GGUFValueType.ARRAY:
        if f.types[1] == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode() for i in f.data]
        return [f.parts[i].tolist()[0] for i in f.data]
    return f.parts[f.data[0]].tolist()[0]


def ensure_ours() -> tuple[Path, Path]:
    d = OUT / "ours"
    model, mmproj = d / "parity-tiny.gguf", d / "mmproj-parity-tiny.gguf"
    subprocess.run(["npx", "tsx", str(ROOT / "parity" / "export-ours.ts"), str(d)], cwd=ROOT, check=True)
    return model, mmproj


def write_tokenizer(reader: gguf.GGUFReader, hf: Path) -> dict:
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    merges = field(reader, "tokenizer.ggml.merges")
    first_added = tokens.index("<|endoftext|>")
    vocab = {t: i for i, t in enumerate(tokens[:first_added])}
    added = [
        {"id": i, "content": tokens[i], "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": types[i] == CONTROL}
        for i in range(first_added, len(tokens))
    ]
    bl = {"add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tj = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", **bl},
            ],
        },
        "post_processor": {"type": "ByteLevel", **bl},
        "decoder": {"type": "ByteLevel", **bl},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": merges,
        },
    }
    hf.mkdir(parents=True, exist_ok=True)
    (hf / "tokenizer.json").write_text(json.dumps(tj, ensure_ascii=False, indent=1))
    Tokenizer.from_file(str(hf / "tokenizer.json"))  # parses
    return {"tokens": tokens, "types": types, "n_vocab": len(tokens)}


def tensors(reader: gguf.GGUFReader) -> dict[str, np.ndarray]:
    out = {}
    for t in reader.tensors:
        if t.tensor_type != gguf.GGMLQuantizationType.F32:
            raise SystemExit(f"{t.name}: expected F32, got {t.tensor_type.name}")
        shape = [int(x) for x in reversed(t.shape.tolist())]
        out[t.name] = np.array(t.data, dtype=np.float32).reshape(shape)
    return out


def main() -> None:
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2TokenizerFast, Qwen2VLImageProcessor)
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    model_path, mmproj_path = ensure_ours()
    tr, vr = gguf.GGUFReader(str(model_path)), gguf.GGUFReader(str(mmproj_path))
    hf = OUT / "hf"
    tok_info = write_tokenizer(tr, hf)
    ids = {t: i for i, t in enumerate(tok_info["tokens"])}

    n_embd = field(tr, "qwen2vl.embedding_length")
    n_head = field(tr, "qwen2vl.attention.head_count")
    sections = field(tr, "qwen2vl.rope.dimension_sections")
    v_embd = field(vr, "clip.vision.embedding_length")
    v_layers = field(vr, "clip.vision.block_count")
    wa = field(vr, "clip.vision.n_wa_pattern")
    config = Qwen2_5_VLConfig(
        # text (flat, as Qwen2.5-VL-7B-Instruct's config.json)
        vocab_size=tok_info["n_vocab"],
        hidden_size=n_embd,
        intermediate_size=field(tr, "qwen2vl.feed_forward_length"),
        num_hidden_layers=field(tr, "qwen2vl.block_count"),
        num_attention_heads=n_head,
        num_key_value_heads=field(tr, "qwen2vl.attention.head_count_kv"),
        max_position_embeddings=field(tr, "qwen2vl.context_length"),
        rms_norm_eps=field(tr, "qwen2vl.attention.layer_norm_rms_epsilon"),
        rope_theta=field(tr, "qwen2vl.rope.freq_base"),
        rope_scaling={"type": "mrope", "mrope_section": [int(s) for s in sections if s > 0]},
        tie_word_embeddings=False,
        hidden_act="silu",
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        vision_token_id=ids["<|vision_pad|>"],
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        torch_dtype="float32",
        vision_config={
            "depth": v_layers,
            "hidden_size": v_embd,
            "intermediate_size": field(vr, "clip.vision.feed_forward_length"),
            "num_heads": field(vr, "clip.vision.attention.head_count"),
            "hidden_act": "silu",
            "in_channels": 3,
            "patch_size": field(vr, "clip.vision.patch_size"),
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "tokens_per_second": 2,
            "window_size": 112,
            "out_hidden_size": field(vr, "clip.vision.projection_dim"),
            "fullatt_block_indexes": list(range(wa - 1, v_layers, wa)),
        },
    )
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()

    t, v = tensors(tr), tensors(vr)
    sd: dict[str, np.ndarray] = {}
    lm = "model.language_model."
    sd[lm + "embed_tokens.weight"] = t.pop("token_embd.weight")
    sd[lm + "norm.weight"] = t.pop("output_norm.weight")
    sd["lm_head.weight"] = t.pop("output.weight")
    for i in range(config.text_config.num_hidden_layers):
        b, p = f"blk.{i}.", f"{lm}layers.{i}."
        for g, h in [("attn_norm.weight", "input_layernorm.weight"), ("ffn_norm.weight", "post_attention_layernorm.weight"),
                     ("attn_q.weight", "self_attn.q_proj.weight"), ("attn_q.bias", "self_attn.q_proj.bias"),
                     ("attn_k.weight", "self_attn.k_proj.weight"), ("attn_k.bias", "self_attn.k_proj.bias"),
                     ("attn_v.weight", "self_attn.v_proj.weight"), ("attn_v.bias", "self_attn.v_proj.bias"),
                     ("attn_output.weight", "self_attn.o_proj.weight"), ("ffn_gate.weight", "mlp.gate_proj.weight"),
                     ("ffn_up.weight", "mlp.up_proj.weight"), ("ffn_down.weight", "mlp.down_proj.weight")]:
            sd[p + h] = t.pop(b + g)
    vis = "model.visual."
    sd[vis + "patch_embed.proj.weight"] = np.stack([v.pop("v.patch_embd.weight"), v.pop("v.patch_embd.weight.1")], axis=2)
    for i in range(v_layers):
        b, p = f"v.blk.{i}.", f"{vis}blocks.{i}."
        sd[p + "norm1.weight"] = v.pop(b + "ln1.weight")
        sd[p + "norm2.weight"] = v.pop(b + "ln2.weight")
        for kind in ("weight", "bias"):
            sd[p + f"attn.qkv.{kind}"] = np.concatenate([v.pop(b + f"attn_{x}.{kind}") for x in "qkv"], axis=0)
            sd[p + f"attn.proj.{kind}"] = v.pop(b + f"attn_out.{kind}")
            for g, h in [("ffn_gate", "gate_proj"), ("ffn_up", "up_proj"), ("ffn_down", "down_proj")]:
                sd[p + f"mlp.{h}.{kind}"] = v.pop(b + f"{g}.{kind}")
    sd[vis + "merger.ln_q.weight"] = v.pop("v.post_ln.weight")
    for k in ("0", "2"):
        for kind in ("weight", "bias"):
            sd[vis + f"merger.mlp.{k}.{kind}"] = v.pop(f"mm.{k}.{kind}")
    if t or v:
        raise SystemExit(f"unmapped GGUF tensors: {sorted(t) + sorted(v)}")
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(a) for k, a in sd.items()}, strict=False)
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    model.generation_config.do_sample = True
    model.generation_config.temperature = 0.7
    model.save_pretrained(hf, safe_serialization=True)

    tokenizer = Qwen2TokenizerFast(
        tokenizer_file=str(hf / "tokenizer.json"),
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        errors="replace",
        add_prefix_space=False,
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
        additional_special_tokens=[a for a in tok_info["tokens"][ids["<|im_start|>"]:ids["<|video_pad|>"] + 1]],
    )
    mean = field(vr, "clip.vision.image_mean")
    std = field(vr, "clip.vision.image_std")
    proc_kw = dict(image_mean=mean, image_std=std, min_pixels=3136, max_pixels=12845056, patch_size=14,
                   temporal_patch_size=2, merge_size=2)
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**proc_kw),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(**proc_kw),
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(hf)
    print(f"saved {hf}")

    # Back to GGUF with the pinned converter. Its pre-tokenizer check hashes the tokenization of a test
    # string and knows only real vocabularies; ours is tiny, so tell it what the real one is: qwen2.
    conv = OUT / "converted"
    conv.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(LLAMA))
    import convert_hf_to_gguf  # noqa: E402
    from conversion.base import TextModel  # noqa: E402
    TextModel.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
    for extra, name in [([], "tiny-f32.gguf"), (["--mmproj"], "mmproj-tiny-f32.gguf")]:
        sys.argv = ["convert_hf_to_gguf.py", str(hf), "--outtype", "f32", "--outfile", str(conv / name), *extra]
        convert_hf_to_gguf.main()

    # The converter's files against ours: same tensors (names, shapes, values), same key metadata.
    report = {"tensors": {}, "metadata": {}}
    for ours_path, conv_path in [(model_path, conv / "tiny-f32.gguf"), (mmproj_path, conv / "mmproj-tiny-f32.gguf")]:
        a, b = gguf.GGUFReader(str(ours_path)), gguf.GGUFReader(str(conv_path))
        ta, tb = tensors(a), tensors(b)
        for name in sorted(set(ta) | set(tb)):
            if name not in ta or name not in tb:
                report["tensors"][name] = "only in " + ("ours" if name in ta else "converted")
            elif ta[name].shape != tb[name].shape:
                report["tensors"][name] = f"shape {ta[name].shape} vs {tb[name].shape}"
            else:
                d = float(np.max(np.abs(ta[name] - tb[name]))) if ta[name].size else 0.0
                if d != 0.0:
                    report["tensors"][name] = f"max abs diff {d}"
        for key in sorted(set(a.fields) | set(b.fields)):
            if key.startswith("GGUF.") or key in ("general.name", "general.file_type", "tokenizer.chat_template"):
                continue
            va = field(a, key) if key in a.fields else "<absent>"
            vb = field(b, key) if key in b.fields else "<absent>"
            if va != vb:
                va = va if not isinstance(va, list) or len(va) < 20 else f"list[{len(va)}]"
                vb = vb if not isinstance(vb, list) or len(vb) < 20 else f"list[{len(vb)}]"
                report["metadata"][key] = {"ours": va, "converted": vb}
    (OUT / "convert-check.json").write_text(json.dumps(report, indent=1, default=str))
    print("tensor differences:", len(report["tensors"]), "metadata differences:", len(report["metadata"]))
    print(json.dumps(report, indent=1, default=str)[:4000])


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
