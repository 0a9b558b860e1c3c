#!/usr/bin/env bash
# Runs the test suite against the AddressSanitizer + UBSan build of the addon (llama.cpp, ggml, mtmd
# and our C++ all instrumented; libav is the system's, uninstrumented).
#   bash scripts/sanitize.sh [vitest args…]
# Node itself is not instrumented, so the ASan runtime is preloaded. Leak checking is off: Node and
# V8 keep allocations alive at exit by design, which LeakSanitizer would report; leaks are measured
# by bench/leak.bench.ts and valgrind (scripts/valgrind.sh) instead. Any ASan/UBSan report aborts the
# process, so it fails the test that triggered it.
set -euo pipefail
cd "$(dirname "$0")/.."
VIDEOSCORE2_SANITIZE=1 node scripts/build.mjs
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
export VIDEOSCORE2_BINARY=$PWD/build/asan/videoscore2.node
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Child processes (the ffmpeg CLI, Chromium) inherit the preload: harmless with leak checks off.
# Instrumented llama.cpp runs several times slower: longer per-test limits.
LD_PRELOAD="$asan:$ubsan" npx vitest run --testTimeout=900000 --hookTimeout=900000 "$@"
