#!/usr/bin/env python3
"""
Issue 7, step "reference": the Python reference stack on the same GPU and the same input as
bench/gpu/score-7b.ts. transformers' Qwen2_5_VLForConditionalGeneration with Qwen2.5-VL-7B's config
and random weights (initialised on the device: no checkpoint, no network) generates 1024 tokens the
way vs2_inference.py does (do_sample, temperature 0.7, top-k 50), from our sampler's frames
(bench/gpu/dump-input.ts) and our engine's token ids, in fp32 (how the reference script loads the
model) and bf16.

Reported per dtype: vision encoder alone, time to first token (vision + prefill + first sample),
decode tokens/s, total generate() time, torch's peak allocated/reserved memory and nvidia-smi's
device-wide peak (the figure comparable with ours).

  python bench/gpu/reference_bench.py [--device cuda] [--dtype fp32,bf16] [--input DIR] [--out FILE]
  python bench/gpu/reference_bench.py --device cpu --tiny      (small config, for checking on a CPU)
  python bench/gpu/reference_bench.py --count-params           (builds the 7B config on the meta device)
"""
from __future__ import annotations

import argparse
import copy
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch
# Imported here, not inside the functions: the modeling module must not first load under a
# torch.device("meta"/"cuda") context (its import-time tensors would land there and the import fails).
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, StoppingCriteriaList

from gpu_common import DEFAULT_WORK, VramPoller, device_facts, load_frames, patchify, sync

# Qwen2.5-VL-7B-Instruct's config.json (the shapes of src/gguf/tiny-model.ts SEVEN_B and docs/reference.md §4).
QWEN_IDS = dict(bos_token_id=151643, eos_token_id=151645, vision_start_token_id=151652, vision_end_token_id=151653,
                vision_token_id=151654, image_token_id=151655, video_token_id=151656)
ADDED_BASE = 151643  # <|endoftext|>: Qwen's 22 added tokens follow in a fixed order
SEVEN_B = dict(
    text_config=dict(
        vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
        num_key_value_heads=4, max_position_embeddings=128000, rms_norm_eps=1e-6, rope_theta=1e6,
        rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]}, hidden_act="silu", tie_word_embeddings=False,
        use_sliding_window=False, sliding_window=32768, max_window_layers=28, attention_dropout=0.0,
        initializer_range=0.02, bos_token_id=151643, eos_token_id=151645),
    vision_config=dict(
        depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584, patch_size=14,
        spatial_merge_size=2, temporal_patch_size=2, window_size=112, fullatt_block_indexes=[7, 15, 23, 31],
        tokens_per_second=2, hidden_act="silu", in_channels=3, initializer_range=0.02),
    tie_word_embeddings=False,
    **QWEN_IDS,
)
# Same structure, tiny widths (head dims 16; vision depth 4 with full attention every 2nd block), real vocabulary size.
TINY = copy.deepcopy(SEVEN_B)
TINY["text_config"].update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, max_window_layers=2, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]})
TINY["vision_config"].update(depth=4, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                             fullatt_block_indexes=[1, 3])
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def build_config(tiny: bool):
    return Qwen2_5_VLConfig(**copy.deepcopy(TINY if tiny else SEVEN_B))


def from_config(config, dtype: torch.dtype, attn: str):
    try:
        return Qwen2_5_VLForConditionalGeneration._from_config(config, torch_dtype=dtype, attn_implementation=attn)
    except TypeError:  # newer transformers renamed torch_dtype
        return Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype, attn_implementation=attn)


def count_params(tiny: bool) -> int:
    with torch.device("meta"):
        model = from_config(build_config(tiny), torch.float32, "sdpa")
    return sum(p.numel() for p in model.parameters())


class TokenClock:
    """A stopping criterion that never stops: generate() calls it once per new token, after sampling."""

    def __init__(self, device: str):
        self.device = device
        self.times: list[float] = []

    def __call__(self, input_ids, scores, **kwargs):
        sync(self.device)
        self.times.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def model_inputs(meta: dict, frames: np.ndarray, vocab_size: int) -> tuple[torch.Tensor, np.ndarray, list[int]]:
    ids = np.array(meta["tokens"], dtype=np.int64)
    added = (ids >= meta["addedBase"]) & (ids < meta["addedBase"] + 22)
    ids[added] += ADDED_BASE - meta["addedBase"]
    s, e = meta["videoStart"], meta["videoEnd"]
    pixel_values, grid = patchify(frames)
    if ids[s - 1] != QWEN_IDS["vision_start_token_id"] or ids[e] != QWEN_IDS["vision_end_token_id"] \
            or not (ids[s:e] == QWEN_IDS["video_token_id"]).all() or e - s != grid[0] * grid[1] * grid[2] // 4:
        raise SystemExit("input.json: the video block does not match the frames (regenerate it with dump-input.ts)")
    if ids.max() >= vocab_size:
        raise SystemExit("input.json: token id beyond the vocabulary")
    return torch.from_numpy(ids)[None], pixel_values, grid


def visual_of(model):
    return getattr(model, "visual", None) or model.model.visual


def run_dtype(model, dtype_name: str, ids, pixel_values, grid, args, poller: VramPoller) -> dict:
    dev = args.device
    dtype = DTYPES[dtype_name]
    model.to(dtype)
    if dev.startswith("cuda"):
        torch.cuda.empty_cache()
    pv = torch.from_numpy(pixel_values).to(dev, dtype)
    thw = torch.tensor([grid], device=dev)
    ids = ids.to(dev)
    # fps 2 with temporal patches of 2 frames: one grid step is 1 s (the processor's second_per_grid_ts).
    kw = dict(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values_videos=pv, video_grid_thw=thw,
              second_per_grid_ts=torch.tensor([1.0], device=dev), do_sample=True, temperature=0.7, top_k=50, top_p=1.0,
              eos_token_id=QWEN_IDS["eos_token_id"], pad_token_id=QWEN_IDS["bos_token_id"])
    with torch.no_grad():
        # Warm-up: cuBLAS handles, kernel selection and the allocator's first pools.
        model.generate(**kw, max_new_tokens=2, min_new_tokens=2)
        sync(dev)
        t = time.perf_counter()
        visual_of(model)(pv, grid_thw=thw)
        sync(dev)
        vision_ms = (time.perf_counter() - t) * 1000
        if dev.startswith("cuda"):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            weights_gib = torch.cuda.memory_allocated() / 2**30
        poller.reset()
        torch.manual_seed(args.seed)
        clock = TokenClock(dev)
        sync(dev)
        t0 = time.perf_counter()
        out = model.generate(**kw, max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens,
                             stopping_criteria=StoppingCriteriaList([clock]))
        sync(dev)
        total = time.perf_counter() - t0
    n = int(out.shape[1] - ids.shape[1])
    ts = clock.times
    row = {
        "dtype": dtype_name,
        "attn": model.config._attn_implementation,
        "vision_ms": vision_ms,
        "ttft_ms": (ts[0] - t0) * 1000,
        "generated_tokens": n,
        "decode_tok_per_s": (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 else None,
        "total_ms": total * 1000,
        "prompt_tokens": int(ids.shape[1]),
    }
    if dev.startswith("cuda"):
        row.update(weights_gib=weights_gib, peak_allocated_gib=torch.cuda.max_memory_allocated() / 2**30,
                   peak_reserved_gib=torch.cuda.max_memory_reserved() / 2**30, vram=poller.reading())
    else:
        row.update(max_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    print(f"{dtype_name}: vision {row['vision_ms']:.0f} ms, first token {row['ttft_ms']:.0f} ms, "
          f"decode {n} tok at {row['decode_tok_per_s'] or 0:.1f} tok/s, total {row['total_ms']:.0f} ms"
          + (f", peak {row['peak_allocated_gib']:.1f} GiB allocated" if 'peak_allocated_gib' in row else ""), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="fp32,bf16", help="comma list of fp32, bf16, fp16; run in this order on one model")
    ap.add_argument("--tiny", action="store_true", help="small config (CPU check)")
    ap.add_argument("--input", type=Path, help="dump-input.ts output (default <work>/input-fps-720p, or -min4-upscale with --tiny)")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default 1024 (32 with --tiny)")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation (transformers' default is sdpa)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--count-params", action="store_true", help="only build the config on the meta device and count parameters")
    args = ap.parse_args()

    n_params = count_params(args.tiny)
    print(f"{'tiny' if args.tiny else '7B'} config: {n_params / 1e9:.3f} B parameters", flush=True)
    if args.count_params:
        return
    if args.max_new_tokens is None:
        args.max_new_tokens = 32 if args.tiny else 1024
    inp = args.input or args.work / ("input-min4-upscale" if args.tiny else "input-fps-720p")
    frames, meta = load_frames(inp)
    config = build_config(args.tiny)
    ids, pixel_values, grid = model_inputs(meta, frames, config.text_config.vocab_size)

    poller = VramPoller(enabled=args.device.startswith("cuda"))
    dtypes = args.dtype.split(",")
    torch.manual_seed(0)
    t = time.perf_counter()
    # Random init straight on the device: a 7B checkpoint is neither here nor downloadable, and
    # initialising 8.3 B weights on the GPU takes seconds (on the CPU, minutes).
    with torch.device(args.device):
        model = from_config(config, DTYPES[dtypes[0]], args.attn).eval()
    sync(args.device)
    init_s = time.perf_counter() - t
    print(f"model initialised on {args.device} in {init_s:.1f} s", flush=True)
    runs = [run_dtype(model, d, ids, pixel_values, grid, args, poller) for d in dtypes]
    poller.stop()
    result = {
        "kind": "reference",
        "label": "tiny" if args.tiny else "7b",
        "params": n_params,
        "init_s": init_s,
        "input": {"dir": str(inp), "clip": meta["clip"], "frames": meta["nframes"], "width": meta["width"],
                  "height": meta["height"], "prompt_tokens": int(ids.shape[1]), "video_tokens": meta["videoEnd"] - meta["videoStart"]},
        "settings": {"max_new_tokens": args.max_new_tokens, "min_new_tokens": args.max_new_tokens, "do_sample": True,
                     "temperature": 0.7, "top_k": 50, "seed": args.seed},
        "facts": device_facts(args.device),
        "runs": runs,
    }
    out = args.out or args.work / "results" / f"reference-{result['label']}-{args.device.split(':')[0]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
