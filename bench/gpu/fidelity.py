#!/usr/bin/env python3
"""
Issue 7, step "fidelity": our engine against transformers on the same device, same weights, same
frames, same token ids. The CPU parity suite (test/addon/parity.test.ts, goldens from parity/goldens.py)
pins this on the CPU; here both sides run on the GPU (ours: the CUDA build with every layer
offloaded, flash attention on, as VideoScorer loads it; transformers: fp32 on cuda).

  1. our random f32 GGUF pair (fidelity-ours.ts model), turned into a transformers checkpoint and back
     into GGUF with llama.cpp's convert_hf_to_gguf.py (text and --mmproj) by parity/make_tiny_hf.py,
     reused as is (its output folder and GGUF source are pointed here);
  2. our engine on the *converted* pair: the clip's frames, token ids, and the top-N raw logits and
     p("1".."5") at the first generated position and the three score positions under the parity
     goldens' forced answer (fidelity-ours.ts run);
  3. transformers on those frames (Qwen2-VL patchify, no torchvision needed) and ids, one forward pass
     over prompt + forced answer, logits read at the same four positions (as parity/goldens.py does);
  4. per position: top-1 and top-5 agreement, max |logit difference| over our top-N ids, max relative
     difference of raw p(1..5).

  python bench/gpu/fidelity.py [--device cuda] [--shape small] [--clip fps-720p]
  python bench/gpu/fidelity.py --device cpu                  (tiny shape, small clip: a CPU check)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

from gpu_common import DEFAULT_WORK, ROOT, device_facts, load_frames, patchify

sys.path.insert(0, str(ROOT / "parity"))
import make_tiny_hf  # noqa: E402  (builds the HF checkpoint from our GGUF and converts it back)

# Logits of a random model sit close together; what must agree is their values. Measured on the
# CPU by the parity suite: raw p(1..5) within 0.003 % (f32 both sides), logits within 1e-2.
LOGIT_TOL = 0.05
RAW_P_REL_TOL = 0.01


def npx(*args: str, env: dict | None = None) -> str:
    r = subprocess.run([str(ROOT / "node_modules" / ".bin" / "tsx"), str(ROOT / "bench" / "gpu" / "fidelity-ours.ts"), *args], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, **(env or {})})
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        raise SystemExit(f"fidelity-ours.ts {args[0]} failed ({r.returncode})")
    return r.stdout.strip().splitlines()[-1]


def build_checkpoint(work: Path, shape: str) -> tuple[Path, Path, Path, dict]:
    """Our GGUF -> transformers checkpoint -> convert_hf_to_gguf.py, via make_tiny_hf.main() (cached)."""
    hf, conv = work / "hf", work / "converted"
    model, mmproj = conv / "tiny-f32.gguf", conv / "mmproj-tiny-f32.gguf"
    check = work / "convert-check.json"
    if not (model.exists() and mmproj.exists() and check.exists() and (hf / "config.json").exists()):
        ours = json.loads(npx("model", "--shape", shape, "--dir", str(work / "ours")))
        make_tiny_hf.OUT = work
        make_tiny_hf.ensure_ours = lambda: (Path(ours["model"]), Path(ours["mmproj"]))
        argv = sys.argv
        try:
            make_tiny_hf.main()
        finally:
            sys.argv = argv
    return hf, model, mmproj, json.loads(check.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--shape", help="tiny | small (default: small on cuda, tiny on cpu)")
    ap.add_argument("--clip", help="a parity clip (default: fps-720p on cuda, min4-upscale on cpu)")
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--top", type=int, default=20, help="our top-N logits compared per position")
    ap.add_argument("--gpu-layers", default="-1")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cuda = args.device.startswith("cuda")
    shape = args.shape or ("small" if cuda else "tiny")
    clip = args.clip or ("fps-720p" if cuda else "min4-upscale")
    work = args.work / f"fidelity-{shape}"
    torch.set_num_threads(min(torch.get_num_threads(), 8))
    # Plain fp32 on the transformers side (TF32 would be the larger error; it is off by default for
    # matmuls, on for cuDNN convolutions such as the patch embedding).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    t0 = time.time()
    hf, model_path, mmproj_path, convert_check = build_checkpoint(work, shape)
    run_dir = work / f"run-{clip}-{args.device.split(':')[0]}"
    env = {"VIDEOSCORE2_GPU": "cuda" if cuda else "cpu"}
    print(npx("run", "--model", str(model_path), "--mmproj", str(mmproj_path), "--clip", clip, "--work", str(args.work),
              "--out-dir", str(run_dir), f"--gpu-layers={args.gpu_layers}", "--top", str(args.top), env=env), flush=True)
    ours = json.loads((run_dir / "ours.json").read_text())
    frames, meta = load_frames(run_dir)

    tok = AutoTokenizer.from_pretrained(hf)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(hf, torch_dtype=torch.float32, attn_implementation=args.attn)
    model = model.to(args.device).eval()
    cfg = model.config
    digits = tok.convert_tokens_to_ids(list("12345"))
    ids = list(meta["tokens"])
    s, e = meta["videoStart"], meta["videoEnd"]
    # Same ids as transformers' tokenizer makes of the same text? (the CPU parity suite checks this in full)
    hf_ids = (tok(meta["beforeVideo"], add_special_tokens=False)["input_ids"] + [cfg.video_token_id] * (e - s)
              + tok(meta["afterVideo"], add_special_tokens=False)["input_ids"])
    forced_ids = [tok("".join(ours["forced"][: k + 1]), add_special_tokens=False)["input_ids"] for k in range(3)]
    read_at = [len(ids) - 1] + [len(ids) + len(f) - 1 for f in forced_ids]
    pixel_values, grid = patchify(frames)
    full = torch.tensor([ids + forced_ids[2]], device=args.device)
    with torch.no_grad():
        out = model(input_ids=full, attention_mask=torch.ones_like(full),
                    pixel_values_videos=torch.from_numpy(pixel_values).to(args.device),
                    video_grid_thw=torch.tensor([grid], device=args.device),
                    second_per_grid_ts=torch.tensor([1.0], device=args.device))
    logits = out.logits[0].double().cpu()

    rows = []
    for k, pos in enumerate(ours["positions"]):
        lg = logits[read_at[k]]
        raw = torch.softmax(lg, -1)
        ref_top5 = [int(i) for i in torch.topk(lg, 5).indices]
        our_top = pos["top"]
        our_top5 = [t["id"] for t in our_top[:5]]
        diffs = [abs(t["logit"] - float(lg[t["id"]])) for t in our_top]
        ref_p = [float(raw[d]) for d in digits]
        rel = max(abs(a - b) / b for a, b in zip(pos["rawProbs"], ref_p)) if pos["rawProbs"] else None
        rows.append({
            "position": pos["name"],
            "tokens_agree": pos["promptTokens"] == (len(ids) + (len(forced_ids[k - 1]) if k else 0)),
            "top1_ours": our_top5[0], "top1_ref": ref_top5[0], "top1_agree": our_top5[0] == ref_top5[0],
            "top5_overlap": len(set(our_top5) & set(ref_top5)),
            "max_abs_logit_diff": max(diffs),
            "compared_logits": len(diffs),
            "logit_spread_top": float(our_top[0]["logit"] - our_top[-1]["logit"]),
            "raw_p_max_rel_diff": rel,
            "raw_p_ours": pos["rawProbs"], "raw_p_ref": ref_p,
        })
    ok = all(r["max_abs_logit_diff"] <= LOGIT_TOL and r["tokens_agree"] and (r["raw_p_max_rel_diff"] or 0) <= RAW_P_REL_TOL for r in rows)
    result = {
        "kind": "fidelity",
        "shape": shape,
        "clip": clip,
        "device": args.device,
        "ours": {k: ours[k] for k in ("binary", "cuda", "gpuLayers", "llamaCommit")},
        "reference": {"dtype": "fp32", "attn": model.config._attn_implementation, **device_facts(args.device)},
        "model": {"hidden": cfg.text_config.hidden_size, "layers": cfg.text_config.num_hidden_layers,
                  "vision_hidden": cfg.vision_config.hidden_size, "vision_depth": cfg.vision_config.depth,
                  "vocab": cfg.text_config.vocab_size},
        "frames": {"count": meta["nframes"], "width": meta["width"], "height": meta["height"]},
        "prompt_tokens": len(ids),
        "ids_match_hf_tokenizer": hf_ids == ids,
        "converter_roundtrip_tensor_differences": len(convert_check["tensors"]),
        "tolerances": {"max_abs_logit_diff": LOGIT_TOL, "raw_p_max_rel_diff": RAW_P_REL_TOL},
        "positions": rows,
        "pass": ok and hf_ids == ids,
        "seconds": time.time() - t0,
    }
    dest = args.out or args.work / "results" / f"fidelity-{args.device.split(':')[0]}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, indent=1) + "\n")
    for r in rows:
        print(f"{r['position']:>7}: top-1 {'=' if r['top1_agree'] else '≠'} ({r['top1_ours']} / {r['top1_ref']}), top-5 {r['top5_overlap']}/5, "
              f"max |Δlogit| {r['max_abs_logit_diff']:.2e} over {r['compared_logits']}, raw p(1..5) max rel {r['raw_p_max_rel_diff'] or 0:.2e}")
    print(f"fidelity {shape} on {args.device} ({'ours CUDA' if ours['cuda'] else 'ours CPU'}): {'PASS' if result['pass'] else 'FAIL'} -> {dest}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
