// Converts decoded frames to packed RGB24 at the plan size as the reference does (swscale's YUV->RGB
// at the decoded size, then RgbResampler's antialiased bicubic), on a thread of its own so that the
// conversion of one target overlaps the decoding of the next: on the sampler's hot path
// the two are the only real costs, and the decoder's frame threads leave a core idle while a
// P-frame chain is decoded. Plain C++ (libav types only).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "video/resample.h"

struct AVFrame;
struct SwsContext;

namespace vs2 {

class FrameConverter {
 public:
  // `label` names the source in error messages. Unthreaded, Push converts before it returns: for
  // callers that already keep every core busy (the sampler's parallel decoders).
  explicit FrameConverter(std::string label, bool threaded = true);
  ~FrameConverter();
  FrameConverter(const FrameConverter&) = delete;
  FrameConverter& operator=(const FrameConverter&) = delete;

  // Queues `src` (a new reference is taken; the caller keeps its own) for conversion into `dst`,
  // which must hold outW*outH*3 bytes and stay valid until Finish(); `done` runs once `dst` holds
  // the pixels. Blocks while the queue is full. Rethrows an error the worker met on an earlier frame.
  // A 0 x 0 output converts nothing: `done` runs at once (the sampler's decode-only mode).
  void Push(const AVFrame* src, int outW, int outH, uint8_t* dst, std::function<void()> done = {});

  // Waits until every queued frame is converted; rethrows the first error.
  void Finish();

 private:
  struct Job {
    AVFrame* frame;
    int outW, outH;
    uint8_t* dst;
    std::function<void()> done;
  };
  struct Key {
    int w = 0, h = 0, format = -1, colorspace = -1, range = -1;
    bool operator==(const Key& o) const {
      return w == o.w && h == o.h && format == o.format && colorspace == o.colorspace && range == o.range;
    }
  };

  void Run();
  void Stop();
  void ConvertNow(const AVFrame* src, int outW, int outH, uint8_t* dst);
  SwsContext* ContextFor(const AVFrame* src);
  void RethrowLocked(std::unique_lock<std::mutex>& lock);

  std::string label_;
  bool threaded_;
  SwsContext* sws_ = nullptr;
  Key key_;
  std::vector<uint8_t> rgb_;  // a frame at its decoded size, before the resize
  std::unique_ptr<RgbResampler> resampler_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace vs2
