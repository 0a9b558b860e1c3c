#!/usr/bin/env bash
# The -march=native CPU backend that bench/cpu-7b.bench.ts measures the shipped variants against
# (issue 29): the pinned ggml's CPU module, in a cmake tree of its own, compiled for this CPU alone.
# ggml refuses GGML_NATIVE with loadable backends (its feature check needs the instruction-set
# definitions), so every GGML_<ISA> is off and -march=native comes in through the compiler flags: the
# module's feature check then accepts any CPU, which is right for a module built on the one it runs on.
# AMX is left out: on the AMX CPU of these VMs its tile instructions die with SIGILL (see
# native/model/backend_modules.cc), which is why the sapphirerapids level is opt-in.
#
#   bash bench/build-cpu-native.sh      (needs deps/llama.cpp: node scripts/fetch-llama.mjs)
set -euo pipefail
cd "$(dirname "$0")/.."
tree=.cache/cmake/cpu-native
flags="-march=native -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
off=""
for isa in SSE42 AVX AVX2 BMI2 FMA F16C AVX_VNNI AVX512 AVX512_VBMI AVX512_VNNI AVX512_BF16 AMX_TILE AMX_INT8 AMX_BF16; do off+=" -DGGML_$isa=OFF"; done
# shellcheck disable=SC2086
cmake -S deps/llama.cpp -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_COMMON=OFF -DLLAMA_CURL=OFF \
  -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_OPENMP=OFF $off \
  "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" > /dev/null
ninja -C "$tree" ggml-cpu | tail -1
echo "$tree/bin/libggml-cpu.so"
