#!/usr/bin/env bash
# A short scoring run (bench/valgrind-score.ts) under valgrind's memcheck with the CPU build.
#   bash scripts/valgrind.sh        (several minutes: memcheck runs code ~30x slower)
# Node and V8 are not built for memcheck: their own reports (JIT code, GC tricks) are noise. The
# summary counts only errors whose stack goes through the addon (videoscore2.node: our code,
# llama.cpp, ggml, mtmd) or libav; the full log stays in bench/.out/valgrind/memcheck.log.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind: apt-get install valgrind"; exit 1; }
out=bench/.out/valgrind
mkdir -p $out
node scripts/ensure.mjs
set +e
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --num-callers=40 --error-limit=no --log-file=$out/memcheck.log \
  node --jitless --import tsx bench/valgrind-score.ts
rc=$?
set -e
# Each error block runs from "==pid== <kind>" to a blank "==pid== " line.
awk '
  /^==[0-9]+== [A-Z]/ && !/HEAP SUMMARY|LEAK SUMMARY|ERROR SUMMARY|Memcheck|Copyright|Using Valgrind|Command:|Parent PID/ { inblk=1; blk=$0 "\n"; next }
  inblk && /^==[0-9]+== *$/ { if (blk ~ /videoscore2\.node|libav|libsw/) { n++; printf "%s\n", blk } inblk=0; next }
  inblk { blk = blk $0 "\n" }
  END { print "errors through the addon or libav: " n+0 }
' $out/memcheck.log | tee $out/addon-errors.txt | tail -40
grep "ERROR SUMMARY\|definitely lost" $out/memcheck.log | tail -2
echo "node exit code under valgrind: $rc"
grep -q "errors through the addon or libav: 0" $out/addon-errors.txt
