/**
 * Which GPU a model loads onto: CUDA when the CUDA build serves this process, else a Vulkan device
 * (its backend module loaded on demand), else none. `auto` never picks a software device (llvmpipe
 * is slower than our CPU build); one is used only when `gpuDevice` names it.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { VideoScoreError } from "./errors.js";
import type { NativeGpuDevice, NativeVersions } from "./interface.js";
import { noteFallback, platformPackage, vulkanModulePaths, type GpuPreference, type LoadedAddon } from "./loader.js";

/** `gpuDevice`: a Vulkan device's index, or a name: ggml's ("Vulkan1", "CUDA0") or part of the driver's ("RTX 4090", "llvmpipe"). */
export type GpuDeviceSelector = number | string;

/** The device chosen: ggml's name ("" = every GPU of the CUDA build), or null for the CPU. */
export interface DeviceChoice {
  device: NativeGpuDevice | null;
  /** What loadModel() takes. */
  name: string;
}

const TYPE_RANK: Record<string, number> = { discrete: 0, integrated: 1, virtual: 2, other: 3, "": 4, software: 5 };

/** Hardware devices first, by type then memory; software devices last. */
export function rankDevices(devices: readonly NativeGpuDevice[]): NativeGpuDevice[] {
  return [...devices].sort((a, b) => (TYPE_RANK[a.type] ?? 4) - (TYPE_RANK[b.type] ?? 4) || b.memoryTotal - a.memoryTotal);
}

export function describeDevice(d: NativeGpuDevice): string {
  const mem = d.memoryTotal > 0 ? `, ${(d.memoryTotal / 2 ** 30).toFixed(1)} GiB` : "";
  return `${d.backend}${d.index >= 0 ? ` #${d.index}` : ""} "${d.description}" (${d.type || "unknown type"}${mem})`;
}

/** The devices a selector names; a number is a Vulkan index. */
export function matchDevices(devices: readonly NativeGpuDevice[], selector: GpuDeviceSelector): NativeGpuDevice[] {
  if (typeof selector === "number") return devices.filter((d) => d.backend === "vulkan" && d.index === selector);
  const s = selector.toLowerCase();
  const exact = devices.filter((d) => d.name !== "" && d.name.toLowerCase() === s);
  return exact.length > 0 ? exact : devices.filter((d) => d.description.toLowerCase().includes(s));
}

function listing(devices: readonly NativeGpuDevice[]): string {
  return devices.length === 0 ? "this machine shows none" : `this machine has: ${devices.map(describeDevice).join("; ")}`;
}

/**
 * Loads the Vulkan module of the same install as the addon, once. Returns why it cannot be used,
 * or "" when its devices are registered.
 */
function loadVulkan(loaded: LoadedAddon, v: NativeVersions): string {
  if (!v.modular) return "this build of the addon (CUDA or sanitizer) has no Vulkan backend";
  const module = vulkanModulePaths().find((p) => existsSync(p));
  if (!module) return `the Vulkan backend is not installed: npm install ${platformPackage("vulkan")} (or build it: node scripts/build.mjs --vulkan)`;
  const r = loaded.addon.loadBackends({ dir: dirname(loaded.path), gpuModules: [module] });
  return r.gpuModules[0]?.error ?? "";
}

/**
 * The GPU for a model, by preference and selector, loading the Vulkan module when it may be used.
 * @throws VideoScoreError ERR_GPU_UNAVAILABLE when the GPU asked for (by `gpu` or `gpuDevice`) cannot be used
 */
export function chooseDevice(loaded: LoadedAddon, gpu: GpuPreference, selector: GpuDeviceSelector | undefined): DeviceChoice {
  if (gpu === "cpu") {
    if (selector !== undefined) throw new VideoScoreError("ERR_INVALID_OPTION", `gpuDevice ${JSON.stringify(selector)} was given with gpu: "cpu"; drop one of them`);
    return { device: null, name: "" };
  }
  // Read once before the Vulkan module may load; after it, the devices carry ggml's names.
  const v = loaded.addon.versions();
  if (loaded.cuda) {
    const cudaDevices = v.gpuDevices.filter((d) => d.backend === "cuda");
    if (selector === undefined) return { device: cudaDevices[0] ?? null, name: "" };
    const hit = matchDevices(cudaDevices, selector)[0];
    if (!hit) throw new VideoScoreError("ERR_GPU_UNAVAILABLE", `gpuDevice ${JSON.stringify(selector)} names no CUDA device; ${listing(cudaDevices)}`);
    return { device: hit, name: hit.name };
  }
  const { vulkan } = v;
  if (!vulkan.loaderFound) {
    const why = `Vulkan cannot be used: ${vulkan.problem}; install the Vulkan loader (Debian/Ubuntu: apt-get install libvulkan1) and your GPU's Vulkan driver`;
    if (gpu === "vulkan" || selector !== undefined) throw new VideoScoreError("ERR_GPU_UNAVAILABLE", why);
    noteFallback(`videoscore2-native: ${why}; using the CPU`);
    return { device: null, name: "" };
  }
  const scanned = v.gpuDevices.filter((d) => d.backend === "vulkan");
  // `auto` on a machine with only a software device (or none) does not even load the module.
  const wanted = selector !== undefined ? matchDevices(scanned, selector) : rankDevices(scanned).filter((d) => d.type !== "software");
  if (wanted.length === 0) {
    if (selector !== undefined)
      throw new VideoScoreError("ERR_GPU_UNAVAILABLE", `gpuDevice ${JSON.stringify(selector)} names no Vulkan device; ${listing(scanned)}`);
    const why = scanned.length === 0 ? `no Vulkan device (${vulkan.problem || "none listed"})` : `no hardware Vulkan device (${listing(scanned)}; a software device is used only when gpuDevice names it)`;
    if (gpu === "vulkan") throw new VideoScoreError("ERR_GPU_UNAVAILABLE", `gpu: "vulkan" but ${why}`);
    noteFallback(`videoscore2-native: ${why}; using the CPU`);
    return { device: null, name: "" };
  }
  const why = loadVulkan(loaded, v);
  if (why) {
    if (gpu === "vulkan" || selector !== undefined) throw new VideoScoreError("ERR_GPU_UNAVAILABLE", `Vulkan cannot be used: ${why}`);
    noteFallback(`videoscore2-native: Vulkan not usable (${why}); using the CPU`);
    return { device: null, name: "" };
  }
  const live = loaded.addon.versions().gpuDevices.filter((d) => d.backend === "vulkan" && d.name !== "");
  const pick = rankDevices(live).find((d) => wanted.some((w) => w.index === d.index));
  if (gpu === "vulkan" && !pick) {
    throw new VideoScoreError("ERR_GPU_UNAVAILABLE", `gpu: "vulkan" but ggml's Vulkan backend registered none of ${wanted.map(describeDevice).join("; ")}`);
  }
  if (!pick) {
    noteFallback(`videoscore2-native: ggml's Vulkan backend registered none of ${wanted.map(describeDevice).join("; ")}; using the CPU`);
    return { device: null, name: "" };
  }
  return { device: pick, name: pick.name };
}
