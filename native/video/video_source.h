// A video opened over libav (file or memory): its frames indexed in presentation order, then exactly
// the frames a plan names decoded and converted to RGB24 at the target size (swscale to RGB at the
// decoded size, then the antialiased bicubic resize of resample.h). Plain C++: no N-API types. The frame plan itself (which indices, which size) is computed in
// TypeScript (src/video/frame-plan.ts) from the VideoInfo this class reports.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "video/stream_decoder.h"

namespace vs2 {

// The defaults are the caller's (src/video/sample.ts for the library).
struct VideoLimits {
  // Source frames larger than this are refused (ERR_VIDEO_LIMITS) before any decoding.
  int64_t maxPixelsPerFrame = 0;
  // Videos with more frames than this are refused (ERR_VIDEO_LIMITS) after indexing.
  int64_t maxFrames = 0;
  // Wall-clock budget for open + index + decode, in seconds; 0 = none.
  double deadlineSeconds = 0;
  // Decoding threads; 0 = as many as cores. Runs of the plan that start at a keyframe are decoded
  // in parallel, one decoder each, when there are several; otherwise one decoder gets them all.
  int threads = 0;
};

struct VideoInfo {
  int64_t totalFrames = 0;   // frames in presentation order, counted from the packet index
  double fps = 0;            // the stream's average frame rate (what decord's get_avg_fps reports)
  int width = 0;
  int height = 0;
  double durationSeconds = 0;
  std::string codec;
  std::string container;
};

struct DecodedFrame {
  int64_t index = 0;         // presentation-order frame index
  double timeSeconds = 0;    // presentation time relative to the stream start
  std::vector<uint8_t> rgb;  // width*height*3, packed RGB24
};

class VideoSource {
 public:
  // Opens and indexes a file. Throws vs2::Error (ERR_INPUT_NOT_FOUND, ERR_INPUT_UNREADABLE,
  // ERR_NO_VIDEO_STREAM, ERR_DECODE, ERR_VIDEO_LIMITS, ERR_ABORTED).
  static std::unique_ptr<VideoSource> OpenFile(const std::string& path, const VideoLimits& limits,
                                               const CancelToken& cancel = {});
  // Same for bytes in memory; `data` must outlive the VideoSource (it is not copied).
  static std::unique_ptr<VideoSource> OpenMemory(const uint8_t* data, size_t size, const VideoLimits& limits,
                                                 const CancelToken& cancel = {});
  ~VideoSource();

  const VideoInfo& info() const;

  // Decodes the frames at the given presentation indices (any order; returned sorted, duplicates
  // kept once) at outWidth x outHeight (see the top of this file). The pixels do not depend on
  // how many threads decode them. 0 x 0 decodes the same frames the same way and converts none
  // (their rgb stays empty): the decode-only floor of a benchmark.
  std::vector<DecodedFrame> Decode(const std::vector<int64_t>& indices, int outWidth, int outHeight,
                                   const CancelToken& cancel = {}, DecodeStats* stats = nullptr);

  // Decode() into caller-owned slots, one per target (ascending, distinct); onReady(i) runs, on a
  // decoding thread, as soon as out[i] holds its pixels (the frame feed's hook).
  void DecodeInto(const std::vector<int64_t>& targets, int outWidth, int outHeight, std::vector<DecodedFrame>& out,
                  const CancelToken& cancel, DecodeStats* stats, const std::function<void(size_t)>& onReady);

  // Decodes every frame without converting any: the floor a full-decode reader pays (benchmarks).
  int64_t DecodeAll(const CancelToken& cancel = {});

  struct Impl;

 private:
  explicit VideoSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// libavformat/libavcodec/libswscale/libavutil versions, "major.minor.micro".
struct LibavVersions {
  std::string avformat, avcodec, swscale, avutil;
};
LibavVersions GetLibavVersions();

}  // namespace vs2
