#!/usr/bin/env bash
# The GPU checks of issues 7 and 17, unattended (bench/gpu/README.md): on a machine with an NVIDIA GPU,
# the CUDA toolkit, CMake, ninja, Python with torch + transformers, and no network. What it lacks
# (node, node_modules, llama.cpp, the static FFmpeg, clips) comes as the bundles of bench/gpu/pack.mjs.
#
#   bash bench/gpu/run.sh                  every step, in order: unpack info build test model score reference fidelity report
#   bash bench/gpu/run.sh score report     only these steps, in the order given
#   bash bench/gpu/run.sh --tiny unpack info build-cpu test model score reference fidelity report
#                                          the same steps on a CPU with tiny shapes (checks the scripts;
#                                          build-cuda is skipped, the suite runs on the CPU build, the
#                                          report goes to <work>/RESULTS.md)
#
# Steps: unpack, info, build (= build-cpu build-cuda build-vulkan), test, model, score, vulkan, reference,
# fidelity, report; and samples (issue 16's benchmark; not in the default list: bash bench/gpu/run.sh
# build-cuda samples). vulkan scores the same model with ggml's Vulkan backend beside CUDA (issue 27);
# with --tiny it runs on Mesa's software device (llvmpipe), which checks the step, not the speed.
# Each command runs under `timeout $STEP_TIMEOUT` (600 s); a step that fails or times out is recorded
# and the next one runs. Results: <work>/results/*.json, logs: <work>/logs/<step>.log, the page:
# bench/gpu/RESULTS.md. Where $OUT is set (the device runner's output folder) results, logs and the
# page are copied there after every step, since nothing else comes back from the machine.
#
# Environment: PYTHON (python3), VIDEOSCORE2_CUDA_ARCHS (90), STEP_TIMEOUT (600), WORK (bench/.out/gpu),
# REF_DTYPES (fp32,bf16), QUANTS ("Q4_K_M Q8_0"), TEST_ARGS (extra vitest arguments, e.g. a file).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

TINY=0
if [ "${1:-}" = "--tiny" ]; then TINY=1; shift; fi
STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(unpack info build test model score vulkan reference fidelity report)

PY=${PYTHON:-python3}
WORK=${WORK:-bench/.out/gpu}
STEP_TIMEOUT=${STEP_TIMEOUT:-600}
ARCHS=${VIDEOSCORE2_CUDA_ARCHS:-90}
REF_DTYPES=${REF_DTYPES:-fp32,bf16}
QUANTS=${QUANTS:-Q4_K_M Q8_0}
RES=$WORK/results
LOGS=$WORK/logs
mkdir -p "$RES" "$LOGS"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
export TOKENIZERS_PARALLELISM=false

if [ $TINY = 1 ]; then
  DEVICE=cpu; LABEL=tiny; SCORE_ARGS=(--tiny --max-tokens 32 --runs 1); REF_ARGS=(--device cpu --tiny); FID_ARGS=(--device cpu)
  INPUT_CLIP=min4-upscale; REPORT_OUT=$WORK/RESULTS.md
else
  DEVICE=cuda; LABEL=7b; SCORE_ARGS=(--gpu-layers=-1); REF_ARGS=(--device cuda --dtype "$REF_DTYPES"); FID_ARGS=(--device cuda)
  INPUT_CLIP=fps-720p; REPORT_OUT=bench/gpu/RESULTS.md
fi

# What pack.mjs carried, once unpacked: its node first on PATH (the device image has none), its static
# FFmpeg for the build (the device has no libav headers). Called again after `unpack`.
use_carried() {
  if [ -x .cache/device/node/bin/node ]; then
    case ":$PATH:" in *":$PWD/.cache/device/node/bin:"*) ;; *) export PATH="$PWD/.cache/device/node/bin:$PATH" ;; esac
  fi
  if [ -z "${VIDEOSCORE2_FFMPEG_DIR:-}" ]; then
    local d
    for d in .cache/ffmpeg/*/; do
      if [ -f "$d/stamp.json" ] && [ -f "$d/lib/libavformat.a" ]; then
        # PKG_CONFIG_PATH: addon.test.ts checks the versions the addon reports against pkg-config's.
        export VIDEOSCORE2_FFMPEG_DIR="$PWD/${d%/}" PKG_CONFIG_PATH="$PWD/${d%/}/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
        break
      fi
    done
  fi
}
use_carried

# Not npx: the carried node comes without npm.
TSX=(node_modules/.bin/tsx)
# One command under the step timeout (run_step keeps the log).
t() { timeout --kill-after=20 "$STEP_TIMEOUT" "$@"; }

copy_out() {
  [ -n "${OUT:-}" ] || return 0
  mkdir -p "$OUT/gpu"
  cp -r "$RES" "$LOGS" "$OUT/gpu/" 2>/dev/null
  [ -f "$REPORT_OUT" ] && cp "$REPORT_OUT" "$OUT/gpu/"
  return 0
}

# Bundles of bench/gpu/pack.mjs in .cache/device/ (carried there): each path they hold is put into
# place when it is missing; what is there already (a node_modules, a deps/llama.cpp, a clip) is kept.
step_unpack() {
  local b x u found=0
  for b in .cache/device/tools.tar.xz .cache/device/clips.tar.xz .cache/device/vulkan.tar.xz; do
    [ -f "$b" ] || continue
    found=1
    x=.cache/device/unpacked
    rm -rf "$x" && mkdir -p "$x"
    if command -v xz >/dev/null; then
      tar -xJf "$b" -C "$x" || return 1
    else
      "$PY" -c 'import sys, tarfile; t = tarfile.open(sys.argv[1]); t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))' "$b" "$x" || return 1
    fi
    for u in .cache/device/node deps/llama.cpp node_modules build/vulkan "$x"/.cache/ffmpeg/*; do
      u=${u#"$x"/}
      [ -e "$x/$u" ] || continue
      if [ -e "$u" ] || [ -L "$u" ]; then echo "unpack: $u is there already: kept"; continue; fi
      mkdir -p "$(dirname "$u")" && mv "$x/$u" "$u" && echo "unpack: $u"
    done
    for u in test/.fixtures bench/.out/gpu/clips; do
      [ -d "$x/$u" ] || continue
      mkdir -p "$u" && cp -a -n "$x/$u/." "$u/" && echo "unpack: $u ($(find "$x/$u" -type f | wc -l) files, none overwritten)"
    done
    cp "$x"/.cache/device/*.manifest.json .cache/device/ 2>/dev/null
    rm -rf "$x"
    echo "unpack: $b done"
  done
  [ $found = 1 ] || { echo "unpack: no bundle in .cache/device/ (node bench/gpu/pack.mjs makes them; carry them)"; return 1; }
}

step_info() {
  {
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | sed 's/^/gpu: /'
      echo "cuda (driver): $(nvidia-smi | grep -o 'CUDA Version: [0-9.]*' | head -1 | cut -d' ' -f3)"
    else
      echo "gpu: none (nvidia-smi not found)"
    fi
    echo "nvcc: $(command -v nvcc >/dev/null && nvcc --version | grep -o 'release [0-9.]*' || echo missing)"
    echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "memory: $(free -g | awk '/Mem:/{print $2}') GiB"
    echo "node: $(node --version 2>/dev/null || echo missing) ($(command -v node))"
    echo "carried: $(cat .cache/device/*.manifest.json 2>/dev/null | grep -o '"made": "[^"]*"\|"bundle": "[^"]*"' | tr '\n' ' ')"
    echo "ffmpeg prefix: ${VIDEOSCORE2_FFMPEG_DIR:-none (the system libav)}"
    echo "cmake: $(cmake --version 2>/dev/null | head -1 | awk '{print $3}') ninja: $(ninja --version 2>/dev/null || echo missing)"
    echo "libav: $(pkg-config --modversion libavformat libavcodec libswscale libavutil 2>/dev/null | tr '\n' ' ' || echo missing)"
    echo "ffmpeg: $(ffmpeg -version 2>/dev/null | head -1 | awk '{print $3}' || echo missing)"
    echo "python: $($PY -c 'import sys, torch, transformers, numpy; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "transformers", transformers.__version__, "numpy", numpy.__version__)' 2>&1 | tail -1)"
    echo "llama.cpp: $(cat deps/llama.cpp/.videoscore2-stamp 2>/dev/null || echo 'missing (deps/llama.cpp must be carried: no network here)')"
    echo "disk free: $(df -h . | awk 'NR==2{print $4}')"
  } | tee "$RES/device.txt"
  local missing=()
  [ -d node_modules/tsx ] || missing+=("node_modules (carry it)")
  [ -f deps/llama.cpp/convert_hf_to_gguf.py ] || missing+=("deps/llama.cpp (carry it)")
  command -v node >/dev/null || missing+=("node (carry tools.tar.xz, then unpack)")
  [ -n "${VIDEOSCORE2_FFMPEG_DIR:-}" ] || pkg-config --exists libavformat libavcodec libswscale libavutil 2>/dev/null || missing+=("libav: neither the carried static FFmpeg nor libav*-dev (pkg-config)")
  [ -f "$WORK/clips/fps-720p-121at24.mp4" ] || command -v ffmpeg >/dev/null || missing+=("benchmark clips (tools.tar.xz) or the ffmpeg CLI")
  [ -f test/.fixtures/videos/big-720p-10s.mp4 ] || command -v ffmpeg >/dev/null || echo "note: no suite clips (clips.tar.xz) and no ffmpeg CLI: the test step's clip tests fail"
  if [ $TINY = 0 ]; then
    command -v nvcc >/dev/null || missing+=("nvcc")
    command -v nvidia-smi >/dev/null || missing+=("nvidia-smi / driver")
  fi
  $PY -c 'import torch, transformers, yaml, safetensors, tokenizers' 2>/dev/null || missing+=("python: torch/transformers/pyyaml/safetensors/tokenizers")
  if [ ${#missing[@]} -gt 0 ]; then printf 'MISSING: %s\n' "${missing[@]}"; return 1; fi
}

step_build_cpu() {
  # The CPU build too: the test suite's global setup loads it, and the loader falls back to it.
  # Incremental: a second run only relinks what changed (the tree is .cache/cmake/cpu).
  t node scripts/build.mjs
}

step_build_cuda() {
  [ $TINY = 1 ] && { echo "--tiny: no CUDA build"; return 0; }
  # Interrupted by the timeout, a rerun resumes: the cmake tree in .cache/cmake/cuda is kept.
  VIDEOSCORE2_CUDA=1 VIDEOSCORE2_CUDA_ARCHS="$ARCHS" t node scripts/build.mjs || return $?
  t "${TSX[@]}" bench/gpu/check-cuda.ts > "$RES/versions-cuda.json"
  local rc=$?
  cat "$RES/versions-cuda.json"
  return $rc
}

step_build_vulkan() {
  # The module pack.mjs carried (built where glslc and the headers are; the device has no network
  # for the headers) is kept; else it is built here, which needs glslc.
  if [ -f build/vulkan/libggml-vulkan.so ]; then echo "build/vulkan/libggml-vulkan.so is there (carried or built before): kept"; return 0; fi
  command -v glslc >/dev/null || { echo "no build/vulkan/libggml-vulkan.so and no glslc to build it: carry the vulkan bundle (node bench/gpu/pack.mjs)"; return 1; }
  t node scripts/build.mjs --vulkan
}

step_vulkan() {
  local q rc=0 clip=() dev=()
  [ -f build/vulkan/libggml-vulkan.so ] || { echo "no build/vulkan/libggml-vulkan.so: run the build-vulkan step first"; return 1; }
  # ggml-vulkan needs the loader and a driver's ICD; say which is missing rather than a bare load error.
  ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || echo "note: ldconfig lists no libvulkan.so.1 (the Vulkan loader)"
  [ $TINY = 1 ] && { clip=(--clip "$INPUT_CLIP"); dev=(--gpu-device llvmpipe); }
  for q in $QUANTS; do
    t "${TSX[@]}" bench/gpu/score-7b.ts "${SCORE_ARGS[@]}" "${clip[@]}" --gpu vulkan "${dev[@]}" --quant "$q" --work "$WORK" || rc=$?
  done
  return $rc
}

step_test() {
  local log=$LOGS/vitest.log rc gpu=(VIDEOSCORE2_GPU=cuda VIDEOSCORE2_GPU_LAYERS=-1)
  # --tiny: the same suite on the CPU build (what the GPU machine runs, less the GPU).
  [ $TINY = 1 ] && gpu=(VIDEOSCORE2_GPU=cpu)
  # The demo's sample clip, carried in clips.tar.xz (no ffmpeg CLI there to make it).
  [ -f test/.fixtures/cache/sample-640x360-5s.mp4 ] && gpu+=(VIDEOSCORE2_CACHE_DIR="$PWD/test/.fixtures/cache")
  # shellcheck disable=SC2086
  env "${gpu[@]}" timeout --kill-after=20 "$STEP_TIMEOUT" node_modules/.bin/vitest run ${TEST_ARGS:-} > "$log" 2>&1
  rc=$?
  { grep -E '^ *(Test Files|Tests|Duration|FAIL|×)' "$log" | sed 's/\x1b\[[0-9;]*m//g' | head -40; echo "exit $rc"; } | tee "$RES/test-summary.txt"
  return $rc
}

step_model() {
  # The F16 pair once, then each quantization of it; and the benchmark input for the reference.
  local q rc=0
  for q in $QUANTS; do t "${TSX[@]}" bench/gpu/score-7b.ts "${SCORE_ARGS[@]}" --quant "$q" --work "$WORK" --only model || rc=$?; done
  t "${TSX[@]}" bench/gpu/dump-input.ts --clip "$INPUT_CLIP" --work "$WORK" || rc=$?
  return $rc
}

step_score() {
  local q rc=0 clip=() gpu=cuda
  # On the GPU machine only the CUDA build may run it: a fallback to the CPU would spend the whole
  # timeout on a 7B model.
  [ $TINY = 1 ] && { clip=(--clip "$INPUT_CLIP"); gpu=auto; }
  for q in $QUANTS; do
    VIDEOSCORE2_GPU=$gpu t "${TSX[@]}" bench/gpu/score-7b.ts "${SCORE_ARGS[@]}" "${clip[@]}" --quant "$q" --work "$WORK" || rc=$?
  done
  return $rc
}

step_reference() {
  [ -f "$WORK/input-$INPUT_CLIP/input.json" ] || t "${TSX[@]}" bench/gpu/dump-input.ts --clip "$INPUT_CLIP" --work "$WORK" || return $?
  t "$PY" bench/gpu/reference_bench.py "${REF_ARGS[@]}" --work "$WORK"
}

step_samples() {
  # Issue 16's benchmark (bench/samples.bench.ts) unchanged, every layer on the GPU: parallel: 4 vs 1 for four videos, samples: 4 vs 4
  # scores, 4 prompts on one EncodedVideo vs 4 scores, the spread with k = 1 vs 8. The tiny model by
  # default; SAMPLES_MODEL and SAMPLES_MMPROJ name another pair (e.g. the 7B one the model step wrote).
  local gpu=cuda model=()
  [ $TINY = 1 ] && gpu=auto
  [ -n "${SAMPLES_MODEL:-}" ] && model=(--model "$SAMPLES_MODEL" --mmproj "$SAMPLES_MMPROJ")
  VIDEOSCORE2_GPU=$gpu t "${TSX[@]}" bench/samples.bench.ts --gpu-layers -1 --runs 5 "${model[@]}" --json "$RES/samples-$LABEL.json"
}

step_fidelity() { t "$PY" bench/gpu/fidelity.py "${FID_ARGS[@]}" --work "$WORK"; }

step_report() { "${TSX[@]}" bench/gpu/report.ts --work "$WORK" --label "$LABEL" --device "$DEVICE" --out "$REPORT_OUT"; }

run_step() {
  local name=$1 fn=$2 t0 rc
  echo "=== $name ($(date -u +%H:%M:%S))"
  t0=$(date +%s)
  "$fn" 2>&1 | tee "$LOGS/$name.log" | grep -v '^npm warn' | tail -n 40
  rc=${PIPESTATUS[0]}
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$(date -u '+%Y-%m-%d %H:%M')" >> "$RES/steps.tsv"
  echo "=== $name: exit $rc in $(( $(date +%s) - t0 )) s"
  copy_out
  return 0
}

for s in "${STEPS[@]}"; do
  case $s in
    unpack) run_step unpack step_unpack; use_carried ;; # the step ran in a pipeline's subshell
    info) run_step info step_info ;;
    build) run_step build-cpu step_build_cpu; run_step build-cuda step_build_cuda; run_step build-vulkan step_build_vulkan ;;
    build-vulkan) run_step build-vulkan step_build_vulkan ;;
    vulkan) run_step vulkan step_vulkan ;;
    build-cpu) run_step build-cpu step_build_cpu ;;
    build-cuda) run_step build-cuda step_build_cuda ;;
    test) run_step test step_test ;;
    model) run_step model step_model ;;
    score) run_step score step_score ;;
    samples) run_step samples step_samples ;;
    reference) run_step reference step_reference ;;
    fidelity) run_step fidelity step_fidelity ;;
    report) run_step report step_report ;;
    *) echo "unknown step '$s' (unpack info build build-cpu build-cuda build-vulkan test model score vulkan samples reference fidelity report)"; exit 2 ;;
  esac
done
# Steps already ran into the report above when 'report' was listed; refresh it when it was not.
case " ${STEPS[*]} " in *" report "*) ;; *) step_report >/dev/null 2>&1; copy_out ;; esac
