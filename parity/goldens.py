#!/usr/bin/env python3
"""
Stage-by-stage goldens from the reference pipeline (qwen-vl-utils 0.0.11 + transformers 4.53.2's
Qwen2.5-VL, as vs2_inference.py runs them) on the clips of test/parity/goldens/clips.json and the
tiny model of parity/make_tiny_hf.py. Writes test/parity/goldens/*.json and *.pixels.f16.

Per clip:
  frames   what process_vision_info returns with the decord reader: total frames, fps, nframes, the
           indices decord was asked for, the resized size, sha256 and per-frame mean of the float
           pixels, and a 1-in-16x16 subsample of them (float16, <clip>.pixels.f16: T x 3 x ceil((H-8)/16)
           x ceil((W-8)/16), rows/columns 8, 24, 40, ...); plus, for the report, the full-frame
           difference to our sampler's frames (parity/dump-frames.ts).
  prompt   for each template, the processor's input ids (text before the video, number of video
           tokens, text after) and the (t, h, w) positions from get_rope_index.
  model    (templates "inference" and "benchmark") at the first generated position and at the three
           score positions under a forced answer: raw p("1".."5") (softmax of the logits over the
           whole vocabulary), the argmax and top-5 tokens, the processed distribution generate()
           returns as `scores` (temperature 0.7, then top-k 50), p(1..5) over the digits alone at
           temperature 0.7, and the reference soft scores of those; the same raw p(1..5) with our
           frames fed to the reference model (isolates the effect of pixel differences).

Usage: bash parity/setup.sh && parity/.venv/bin/python parity/make_tiny_hf.py && parity/.venv/bin/python parity/goldens.py
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from string import Template

os.environ["FORCE_QWENVL_VIDEO_READER"] = "decord"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "parity" / ".out"
GOLD = ROOT / "test" / "parity" / "goldens"
CLIPS = OUT / "clips"
SHARED = ROOT.parent / "shared" if (ROOT.parent / "shared").exists() else ROOT / "shared"

T2V_PROMPT = "a red fox jumps over a fence"
# Our template names -> the keys of shared/reference/prompts.json.
TEMPLATES = {"inference": "inference_model_card", "inference-indented": "inference", "benchmark": "benchmark"}
MODEL_TEMPLATES = ["inference", "benchmark"]
# Teacher-forced answer, in the format of the real outputs; the digits 3 and 4 are forced.
FORCED = [
    "\n<think>\nThe video is smooth and the colors are clear.\n</think>\n\n(1) visual quality: ",
    "3\n(2) text-to-video alignment: ",
    "4\n(3) physical/common-sense consistency: ",
]
TEMPERATURE, TOP_K = 0.7, 50
STRIDE, OFFSET = 16, 8


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def make_clips(spec: dict) -> None:
    CLIPS.mkdir(parents=True, exist_ok=True)
    for c in spec["clips"]:
        path = CLIPS / c["file"]
        if path.exists():
            continue
        tmp = CLIPS / (".tmp-" + c["file"])
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *c["input"], *c["output"], str(tmp)],
                       check=True)
        tmp.rename(path)


def ref_soft(p: list[float]) -> float | None:
    """vs2_inference.py's normalized soft score: s* . p(s*) / sum p, s* = argmax over p(1..5), 4 d.p."""
    total = sum(p)
    if total <= 0:
        return None
    best = int(np.argmax(p))
    return round((best + 1) * p[best] / total, 4)


def expected(p: list[float]) -> float | None:
    total = sum(p)
    return None if total <= 0 else sum((i + 1) * v for i, v in enumerate(p)) / total


def position_stats(logits: torch.Tensor, digits: list[int]) -> dict:
    lg = logits.double()
    raw = torch.softmax(lg, -1)
    top = torch.topk(lg, 5)
    scaled = lg / TEMPERATURE
    kth = torch.topk(scaled, TOP_K).values[-1]
    processed = torch.softmax(torch.where(scaled < kth, torch.full_like(scaled, -float("inf")), scaled), -1)
    only_digits = torch.softmax(lg[digits] / TEMPERATURE, -1)
    pr = [float(processed[d]) for d in digits]
    pd = [float(x) for x in only_digits]
    return {
        "raw_probs": [float(raw[d]) for d in digits],
        "digit_logits": [float(lg[d]) for d in digits],
        "argmax": int(torch.argmax(lg)),
        "top5": [int(i) for i in top.indices],
        "top5_logits": [float(v) for v in top.values],
        "digits_in_top_k": [bool(scaled[d] >= kth) for d in digits],
        "processed_probs": pr,
        "processed_soft": ref_soft(pr),
        "digit_probs_t07": pd,
        "digit_soft_t07": ref_soft(pd),
        "digit_expected_t07": expected(pd),
    }


def main() -> None:
    import decord
    import qwen_vl_utils
    from qwen_vl_utils import process_vision_info
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    import transformers
    import torchvision

    torch.set_num_threads(2)
    torch.manual_seed(0)
    spec = json.loads((GOLD / "clips.json").read_text())
    make_clips(spec)
    subprocess.run(["npx", "tsx", str(ROOT / "parity" / "dump-frames.ts"), str(CLIPS), str(OUT / "our-frames")], cwd=ROOT,
                   check=True)
    prompts = json.loads((SHARED / "reference" / "prompts.json").read_text())

    hf = OUT / "hf"
    processor = AutoProcessor.from_pretrained(hf)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(hf, torch_dtype=torch.float32, attn_implementation="eager").eval()
    tok = processor.tokenizer
    digits = tok.convert_tokens_to_ids(list("12345"))
    vs_id, ve_id, vp_id = tok.convert_tokens_to_ids(["<|vision_start|>", "<|vision_end|>", "<|video_pad|>"])

    # Which frames decord was asked for (qwen-vl-utils silently falls back to torchvision on a decord error).
    calls: list[list[int]] = []
    orig_get_batch = decord.VideoReader.get_batch

    def get_batch(self, idx):
        calls.append([int(i) for i in idx])
        return orig_get_batch(self, idx)

    decord.VideoReader.get_batch = get_batch

    ours_gguf = OUT / "ours"
    meta = {
        "generated_by": "parity/goldens.py",
        "command": "bash parity/setup.sh && parity/.venv/bin/python parity/make_tiny_hf.py && parity/.venv/bin/python parity/goldens.py",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
                     "qwen_vl_utils": "0.0.11", "decord": decord.__version__, "numpy": np.__version__,
                     "video_reader": "decord"},
        "model": {"files": {p.name: sha256(p.read_bytes()) for p in sorted(ours_gguf.glob("*.gguf"))},
                  "options": "parity/tiny-model-options.ts"},
        "t2v_prompt": T2V_PROMPT,
        "templates": TEMPLATES,
        "forced": FORCED,
        "temperature": TEMPERATURE,
        "top_k": TOP_K,
        "digit_ids": digits,
        "pixel_subsample": {"stride": STRIDE, "offset": OFFSET, "dtype": "float16", "layout": "T,C,rows,cols"},
        "convert_check": json.loads((OUT / "convert-check.json").read_text()),
    }
    (GOLD / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")

    for c in spec["clips"]:
        t0 = time.time()
        path = CLIPS / c["file"]
        name = c["name"]
        calls.clear()
        vr = decord.VideoReader(str(path))
        total, avg_fps = len(vr), float(vr.get_avg_fps())
        del vr
        messages_for = lambda text: [{"role": "user", "content": [  # noqa: E731
            {"type": "video", "video": str(path), "fps": 2.0}, {"type": "text", "text": text}]}]
        _, video_inputs, video_kwargs = process_vision_info(messages_for("x"), return_video_kwargs=True)
        if len(calls) != 1:
            raise SystemExit(f"{name}: decord was not used ({len(calls)} get_batch calls): the reader fell back")
        video = video_inputs[0]  # (T, C, H, W) float32, 0..255 (bicubic overshoot unclipped)
        T, C, H, W = video.shape
        v = video.numpy().astype(np.float32)
        sub = v[:, :, OFFSET::STRIDE, OFFSET::STRIDE].astype(np.float16)
        (GOLD / f"{name}.pixels.f16").write_bytes(sub.tobytes())

        ours_meta = json.loads((OUT / "our-frames" / f"{name}.json").read_text())
        ours = np.frombuffer((OUT / "our-frames" / f"{name}.rgb").read_bytes(), dtype=np.uint8)
        full_diff = None
        if ours_meta["width"] == W and ours_meta["height"] == H and ours.size == T * H * W * 3:
            ours_tchw = ours.reshape(T, H, W, 3).transpose(0, 3, 1, 2).astype(np.float32)
            d = np.abs(ours_tchw - v)
            dq = np.abs(ours_tchw - np.clip(np.round(v), 0, 255))
            full_diff = {
                "per_frame_mean_abs": [float(x) for x in d.mean(axis=(1, 2, 3))],
                "per_frame_max_abs": [float(x) for x in d.max(axis=(1, 2, 3))],
                "per_frame_p99_abs": [float(np.percentile(x, 99)) for x in d],
                "mean_abs": float(d.mean()),
                "max_abs": float(d.max()),
                "vs_reference_rounded_to_uint8": {"mean_abs": float(dq.mean()), "max_abs": float(dq.max()),
                                                  "exact_fraction": float((dq == 0).mean())},
            }
        # Is each frame decord returned the frame at that index? Compared with the ffmpeg CLI's decode
        # of the whole clip (frame n = n-th frame output), at the native size, before any resize.
        vr = decord.VideoReader(str(path))
        dec = vr.get_batch(calls[0]).asnumpy()
        sw, sh = dec.shape[2], dec.shape[1]
        raw = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                             capture_output=True, check=True).stdout
        allf = np.frombuffer(raw, np.uint8).reshape(-1, sh, sw, 3)
        decord_ok = []
        for k, i in enumerate(calls[0]):
            errs = np.abs(allf.astype(np.int16) - dec[k].astype(np.int16)).mean(axis=(1, 2, 3))
            decord_ok.append({"index": i, "mean_abs_vs_ffmpeg_frame": float(errs[i]), "closest_ffmpeg_frame": int(errs.argmin())})
        del vr, dec, allf, raw
        frames = {
            "decord_vs_ffmpeg": decord_ok,
            "total_frames": total,
            "avg_fps": avg_fps,
            "nframes": int(T),
            "indices": calls[0],
            "height": int(H),
            "width": int(W),
            "sample_fps": float(video_kwargs["fps"][0]),
            "float_sha256": sha256(v.tobytes()),
            "per_frame_mean": [float(x) for x in v.mean(axis=(1, 2, 3))],
            "min": float(v.min()),
            "max": float(v.max()),
            "ours_vs_reference_full_frames": full_diff,
        }

        golden: dict = {"clip": name, "file": c["file"], "file_sha256": sha256(path.read_bytes()), "rule": c["rule"],
                        "frames": frames, "templates": {}}
        ours_video = None
        if full_diff is not None:
            ours_video = torch.from_numpy(ours.reshape(T, H, W, 3).transpose(0, 3, 1, 2).astype(np.float32).copy())
        for tname, key in TEMPLATES.items():
            user = Template(prompts[key]).substitute(t2v_prompt=T2V_PROMPT)
            text = processor.apply_chat_template(messages_for(user), tokenize=False, add_generation_prompt=True)
            inputs = processor(text=[text], images=None, videos=video_inputs, padding=True, return_tensors="pt", fps=2.0)
            ids = inputs["input_ids"][0].tolist()
            s, e = ids.index(vs_id) + 1, ids.index(ve_id)
            if any(i != vp_id for i in ids[s:e]):
                raise SystemExit(f"{name}/{tname}: unexpected token inside the video block")
            grid = inputs["video_grid_thw"]
            spg = inputs["second_per_grid_ts"]
            pos, _ = model.model.get_rope_index(inputs["input_ids"], None, grid, spg, inputs["attention_mask"])
            pos = pos[:, 0, :].to(torch.int32).numpy()
            entry = {
                "user_text": user,
                "chat_text": text,
                "ids_before": ids[:s],
                "n_video_tokens": e - s,
                "ids_after": ids[e:],
                "video_grid_thw": [int(x) for x in grid[0]],
                "second_per_grid_ts": [float(x) for x in spg],
                "positions_sha256": sha256(pos.astype("<i4").tobytes()),
                "positions_after_video": pos[0, e:].tolist(),
                "positions_max": int(pos.max()),
                "video_positions_first_last": {"t": [int(pos[0, s]), int(pos[0, e - 1])], "h": [int(pos[1, s]), int(pos[1, e - 1])],
                                               "w": [int(pos[2, s]), int(pos[2, e - 1])]},
            }
            if len(ids) <= 1200:
                entry["positions"] = {"t": pos[0].tolist(), "h": pos[1].tolist(), "w": pos[2].tolist()}
            if tname in MODEL_TEMPLATES:
                forced_ids = [tok("".join(FORCED[: k + 1]), add_special_tokens=False)["input_ids"] for k in range(3)]
                for k in range(2):
                    if forced_ids[k + 1][: len(forced_ids[k])] != forced_ids[k]:
                        raise SystemExit(f"forced prefix {k} does not tokenize as a prefix of the next")
                read_at = [len(ids) - 1] + [len(ids) + len(f) - 1 for f in forced_ids]

                def run(pixel_values_videos):
                    full = torch.tensor([ids + forced_ids[2]])
                    with torch.no_grad():
                        out = model(input_ids=full, attention_mask=torch.ones_like(full), pixel_values_videos=pixel_values_videos,
                                    video_grid_thw=grid, second_per_grid_ts=spg)
                    return out.logits[0]

                logits = run(inputs["pixel_values_videos"])
                m = {"forced_ids": forced_ids, "positions": ["first"] + [f"score{k + 1}" for k in range(3)],
                     "at": [position_stats(logits[i], digits) for i in read_at]}
                if ours_video is not None:
                    ours_inputs = processor(text=[text], images=None, videos=[ours_video], padding=True, return_tensors="pt", fps=2.0)
                    if ours_inputs["input_ids"][0].tolist() == ids:
                        lo = run(ours_inputs["pixel_values_videos"])
                        m["raw_probs_on_our_frames"] = [[float(torch.softmax(lo[i].double(), -1)[d]) for d in digits] for i in read_at]
                entry["model"] = m
            golden["templates"][tname] = entry
        (GOLD / f"{name}.json").write_text(json.dumps(golden, indent=1) + "\n")
        print(f"{name}: {T} frames {H}x{W} indices {calls[0]}  ({time.time() - t0:.1f}s)", flush=True)


if __name__ == "__main__":
    main()
