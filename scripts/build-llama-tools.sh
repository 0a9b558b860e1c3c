#!/usr/bin/env bash
# Builds llama.cpp's own llama-mtmd-cli from the pinned tree (deps/llama.cpp) with the addon's recipe
# (static, GGML_NATIVE off, no OpenMP), into .cache/cmake/tools/bin — the baseline that
# bench/mtmd-cli.bench.ts runs side by side with the addon. About 6 minutes on 2 cores the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/fetch-llama.mjs >/dev/null
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S deps/llama.cpp -B .cache/cmake/tools "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF >/dev/null
cmake --build .cache/cmake/tools --target llama-mtmd-cli
ls -la .cache/cmake/tools/bin/llama-mtmd-cli
