// libFuzzer harness for VideoSource: mutated video bytes through the in-memory path
// (open + index + decode a few frames at a small size), as an untrusted upload would go.
//   bash scripts/fuzz.sh [seconds]     builds with clang -fsanitize=fuzzer,address,undefined and runs
#include <cstddef>
#include <cstdint>

#include "video/video_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vs2::VideoLimits limits;
  limits.maxPixelsPerFrame = 1920 * 1080;
  limits.maxFrames = 2000;
  limits.deadlineSeconds = 5;
  limits.threads = 2;  // two run decoders where the keyframes allow: the parallel path sees hostile bytes too
  try {
    auto video = vs2::VideoSource::OpenMemory(data, size, limits);
    const auto& info = video->info();
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < info.totalFrames && idx.size() < 4; i += 1 + info.totalFrames / 4) idx.push_back(i);
    if (info.totalFrames > 0) idx.push_back(info.totalFrames - 1);
    video->Decode(idx, 56, 28);
  } catch (const vs2::Error&) {
    // typed errors are the expected outcome for hostile bytes
  }
  return 0;
}
