#!/usr/bin/env bash
# Builds the libFuzzer harness of the native video source (clang, ASan + UBSan) and runs it.
#   bash scripts/fuzz.sh [seconds=1800] [jobs=1]
# Seeds: small clips generated with the ffmpeg CLI into .cache/fuzz/seeds. Crashes land in
# .cache/fuzz/crashes; each one fixed becomes a regression input in test/fuzz-regressions.test.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-1800}
out=.cache/fuzz
mkdir -p $out/seeds $out/corpus $out/crashes
command -v clang++ >/dev/null || { echo "fuzz: needs clang and libclang-rt-dev (apt-get install clang libclang-rt-14-dev)"; exit 1; }
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -Inative \
  native/fuzz/video_source_fuzz.cc native/video/video_source.cc native/video/frame_converter.cc native/video/resample.cc native/video/demuxer.cc native/video/stream_decoder.cc $(pkg-config --cflags --libs libavformat libavcodec libswscale libavutil) \
  -o $out/video_source_fuzz
if [ -z "$(ls -A $out/seeds)" ]; then
  ff() { ffmpeg -loglevel error -y "$@"; }
  ff -f lavfi -i testsrc2=size=64x48:rate=10 -frames:v 12 -c:v libx264 -g 4 -bf 2 -pix_fmt yuv420p $out/seeds/h264.mp4
  ff -f lavfi -i testsrc2=size=64x48:rate=10 -frames:v 12 -c:v mpeg4 -bf 1 $out/seeds/mpeg4.avi
  ff -f lavfi -i testsrc2=size=64x48:rate=10 -frames:v 12 -c:v libvpx-vp9 -b:v 50k $out/seeds/vp9.webm
  ff -f lavfi -i testsrc2=size=64x48:rate=10 -frames:v 12 -c:v mjpeg $out/seeds/mjpeg.mkv
  ff -f lavfi -i testsrc2=size=64x48:rate=10 -frames:v 12 -c:v libx264 -f mpegts $out/seeds/h264.ts
fi
exec $out/video_source_fuzz $out/corpus $out/seeds -max_total_time=$secs -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
  -artifact_prefix=$out/crashes/ -print_final_stats=1
