#!/usr/bin/env bash
# Installs the system packages the build and the tests need, when they are missing:
# libav (libavformat/codec/swscale/util dev files), pkg-config, cmake, ninja, a C++ compiler, and
# the ffmpeg CLI (used only to generate test clips), Chromium (only to test the HTML report) and
# redis-server (only for the queue tests, which start their own on a free port), python3 with venv (only
# for the Python producer's test). Debian/Ubuntu with apt; elsewhere it stops and
# names the packages.
set -euo pipefail
need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
pc() { have pkg-config && pkg-config --exists "$1"; }
pc libavformat || need_pkgs+=(libavformat-dev)
pc libavcodec || need_pkgs+=(libavcodec-dev)
pc libswscale || need_pkgs+=(libswscale-dev)
pc libavutil || need_pkgs+=(libavutil-dev)
have pkg-config || need_pkgs+=(pkg-config)
have ninja || need_pkgs+=(ninja-build)
have cmake || need_pkgs+=(cmake)
have g++ || need_pkgs+=(g++)
have git || need_pkgs+=(git)
have ffmpeg || need_pkgs+=(ffmpeg)
# The static FFmpeg the addon links (scripts/build-ffmpeg.mjs): nasm for its x86 SIMD, meson for dav1d (AV1).
have nasm || need_pkgs+=(nasm)
have meson || need_pkgs+=(meson)
# Headless Chromium renders the HTML report in its test (driven by playwright-core, no browser download).
have chromium || need_pkgs+=(chromium)
# The queue tests (test/addon/queue.test.ts) start a real redis-server; the library never needs one locally.
have redis-server || need_pkgs+=(redis-server)
# The Python producer's test (test/addon/queue-python.test.ts) makes a venv and pip-installs bullmq into it.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_pkgs+=(python3 python3-venv)
# The Vulkan module (scripts/build.mjs --vulkan, docs/backends.md): glslc compiles its shaders; the
# loader and Mesa's llvmpipe (a software Vulkan device) let the tests run it on a machine with no GPU.
have glslc || need_pkgs+=(glslc)
[ -f /usr/share/cmake/SPIRV-Headers/SPIRV-HeadersConfig.cmake ] || need_pkgs+=(spirv-headers)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || need_pkgs+=(libvulkan1)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need_pkgs+=(mesa-vulkan-drivers)
# QEMU's user-mode emulator runs Node under older x86 CPU models, to test the CPU variant chosen at load.
have qemu-x86_64 || need_pkgs+=(qemu-user)
if [ ${#need_pkgs[@]} -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi
# apt's own output goes to a log (VIDEOSCORE2_VERBOSE=1 shows it instead); a failure names the log
# and shows its last lines, as the other set-up steps do (scripts/step-log.mjs).
log="$(cd "$(dirname "$0")/.." && pwd)/.cache/logs/apt.log"
quiet() {
  if [ "${VIDEOSCORE2_VERBOSE:-}" = 1 ]; then "$@"; return; fi
  if ! "$@" >>"$log" 2>&1; then
    {
      echo "setup-system: \`$*\` failed"
      echo "  full log: $log"
      echo "  its last 20 lines:"
      tail -n 20 "$log" | sed 's/^/  | /'
    } >&2
    exit 1
  fi
}
if have apt-get && { [ "$(id -u)" = "0" ] || have sudo; }; then
  sudo=()
  [ "$(id -u)" = "0" ] || sudo=(sudo)
  echo "setup-system: installing ${need_pkgs[*]}${sudo:+ (sudo)}"
  mkdir -p "$(dirname "$log")"
  : >"$log"
  t0=$SECONDS
  quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
  echo "setup-system: installed ${#need_pkgs[@]} packages ($((SECONDS - t0)) s)"
else
  echo "setup-system: missing system packages: ${need_pkgs[*]}" >&2
  echo "Install them with your package manager (Debian/Ubuntu: apt-get install ${need_pkgs[*]}), then run again." >&2
  exit 1
fi
