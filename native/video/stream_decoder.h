// Decodes the frames a sorted list of targets names from one demuxer: seeks to the keyframe before
// a target when one lies ahead of what was read, drops non-reference frames that are not targets,
// and hands every target frame to a callback. The sampler runs one over the whole plan, or one per
// worker over keyframe-delimited runs of it. Plain C++ (libav types only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "video/frame_index.h"

struct AVCodecContext;
struct AVCodecParameters;
struct AVFrame;
struct AVPacket;

namespace vs2 {

class Demuxer;

struct DecodeStats {
  int64_t packetsRead = 0;
  int64_t framesDecoded = 0;
  int64_t framesSkipped = 0;  // non-reference frames the decoder was told to drop
  int64_t seeks = 0;
  int64_t decoders = 0;  // decoders that ran in parallel, each on runs that start at a keyframe

  DecodeStats& operator+=(const DecodeStats& o) {
    packetsRead += o.packetsRead;
    framesDecoded += o.framesDecoded;
    framesSkipped += o.framesSkipped;
    seeks += o.seeks;
    decoders += o.decoders;
    return *this;
  }
};

class StreamDecoder {
 public:
  // Opens a decoder for `par` with `threads` libavcodec threads (0 = as many as cores). The demuxer
  // and the index are borrowed and must outlive it. Every decoded frame larger than maxPixels is
  // ERR_VIDEO_LIMITS: a stream may change its size mid-way, past what its header said. Throws ERR_DECODE.
  StreamDecoder(Demuxer& demuxer, int streamIndex, const AVCodecParameters* par, int threads, const FrameIndex& index,
                int64_t maxPixels);
  ~StreamDecoder();
  StreamDecoder(const StreamDecoder&) = delete;
  StreamDecoder& operator=(const StreamDecoder&) = delete;

  // Decodes targets[0..n) (ascending, unique, in range) and calls emit(i, frame) for each; a target
  // the decoder never produced (dropped or corrupt) is served by the next frame after it. `check`
  // runs before every packet and stops the run by throwing. Throws ERR_DECODE when the stream ends
  // first.
  void Run(const int64_t* targets, size_t n, const std::function<void(size_t, const AVFrame*)>& emit,
           const std::function<void()>& check, DecodeStats& stats);

  // Decodes every frame without converting any; returns how many came out.
  int64_t DecodeAll(const std::function<void()>& check);

  // Back to the first frame, decoder flushed.
  void Rewind();

 private:
  void Free();
  void CheckFrameSize() const;

  Demuxer& demuxer_;
  int streamIndex_;
  const FrameIndex& index_;
  int64_t maxPixels_;
  AVCodecContext* codec_ = nullptr;
  AVPacket* pkt_ = nullptr;
  AVFrame* frame_ = nullptr;
};

}  // namespace vs2
