"""
Helpers shared by bench/gpu/reference_bench.py and bench/gpu/fidelity.py: frames in the layout our
TS helpers dump, the Qwen2-VL patchify, a VRAM poller and device facts. Only numpy and torch: the GPU
machine has transformers but maybe not torchvision, qwen-vl-utils or decord, and no network.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_WORK = ROOT / "bench" / ".out" / "gpu"

# CLIP normalisation, as the Qwen2-VL processor and the mmproj metadata give it.
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def load_frames(directory: Path) -> tuple[np.ndarray, dict]:
    """frames.rgb (T x H x W x 3 uint8, our sampler's frames at the plan's size) and input.json."""
    meta = json.loads((directory / "input.json").read_text())
    raw = np.frombuffer((directory / "frames.rgb").read_bytes(), dtype=np.uint8)
    return raw.reshape(meta["nframes"], meta["height"], meta["width"], 3), meta


def patchify(frames: np.ndarray, patch: int = 14, temporal: int = 2, merge: int = 2) -> tuple[np.ndarray, list[int]]:
    """
    What Qwen2VLImageProcessor/Qwen2VLVideoProcessor return as pixel_values_videos and video_grid_thw
    for frames already at a size the processor keeps (multiples of 28 within its pixel bounds, which
    our sampler's smart_resize guarantees): rescale 1/255, CLIP-normalise, then cut into
    temporal x patch x patch cubes in the merge-window order the vision tower expects.
    """
    t, h, w, c = frames.shape
    x = (frames.astype(np.float32) * np.float32(1 / 255) - CLIP_MEAN) / CLIP_STD
    x = x.transpose(0, 3, 1, 2)  # T, C, H, W
    gt, gh, gw = t // temporal, h // patch, w // patch
    x = x.reshape(gt, temporal, c, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return np.ascontiguousarray(x.reshape(gt * gh * gw, c * temporal * patch * patch)), [gt, gh, gw]


class VramPoller:
    """
    Device-wide memory used, polled with nvidia-smi (the figure comparable with ours: torch's allocator
    statistics miss the CUDA context, cuBLAS workspaces and allocator slack). None without nvidia-smi.
    """

    def __init__(self, interval_ms: int = 100, enabled: bool = True):
        self.interval_ms = interval_ms
        self.baseline: int | None = None
        self.last = 0
        self.peak = 0
        self.samples = 0
        self.proc = None
        if enabled and shutil.which("nvidia-smi"):
            self.proc = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", str(interval_ms)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
            t0 = time.time()
            while self.baseline is None and time.time() - t0 < 5:
                time.sleep(0.02)

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            try:
                v = int(line.strip().split(",")[0])
            except ValueError:
                continue
            if self.baseline is None:
                self.baseline = v
            self.last = v
            self.peak = max(self.peak, v)
            self.samples += 1

    def reset(self) -> None:
        """Starts a new baseline and peak from the current reading (between two measured runs in one process)."""
        time.sleep(self.interval_ms * 2 / 1000)
        if self.baseline is not None:
            self.baseline = self.peak = self.last

    def reading(self) -> dict | None:
        if self.proc is None or self.baseline is None:
            return None
        time.sleep(self.interval_ms * 2 / 1000)
        return {"baselineMiB": self.baseline, "peakMiB": self.peak, "deltaMiB": self.peak - self.baseline,
                "samples": self.samples, "intervalMs": self.interval_ms}

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()


def device_facts(device: str) -> dict:
    import torch
    import transformers
    facts = {"torch": torch.__version__, "torch_cuda": torch.version.cuda, "transformers": transformers.__version__,
             "numpy": np.__version__, "device": device}
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(0)
        facts.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),
                     tf32_matmul=torch.backends.cuda.matmul.allow_tf32, tf32_cudnn=torch.backends.cudnn.allow_tf32)
    return facts


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()
