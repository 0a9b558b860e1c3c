// The frames of one plan, handed from the sampler to the vision encoder as each one is decoded, so
// that encoding the first frame pairs overlaps decoding the later ones. One producer (a decode) and
// one consumer (a score) on two threads. Plain C++.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <vector>

#include "common/error.h"
#include "video/video_source.h"

namespace vs2 {

class FrameFeed {
 public:
  // `planIndices` in plan order, repeats allowed; each distinct frame is decoded once.
  FrameFeed(const std::vector<int64_t>& planIndices, int width, int height);

  int width() const { return width_; }
  int height() const { return height_; }
  size_t size() const { return slotOf_.size(); }  // plan positions

  // Producer side: the distinct frames ascending, and their slots (sized here, filled in place).
  const std::vector<int64_t>& targets() const { return targets_; }
  std::vector<DecodedFrame>& slots() { return slots_; }
  void MarkReady(size_t slot);
  // The producer is done: every slot is ready, or `error` says why not. Wakes the consumer.
  void Close(std::exception_ptr error);

  // Consumer side: the pixels of plan position `k`, once decoded. Throws the producer's error, or
  // the cancel token's.
  const uint8_t* Wait(size_t k, const CancelToken& cancel);

 private:
  int width_, height_;
  std::vector<int64_t> targets_;
  std::vector<size_t> slotOf_;
  std::vector<DecodedFrame> slots_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<bool> ready_;
  bool closed_ = false;
  std::exception_ptr error_;
};

}  // namespace vs2
