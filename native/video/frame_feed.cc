#include "video/frame_feed.h"

#include <algorithm>

namespace vs2 {

FrameFeed::FrameFeed(const std::vector<int64_t>& planIndices, int width, int height)
    : width_(width), height_(height), targets_(planIndices) {
  std::sort(targets_.begin(), targets_.end());
  targets_.erase(std::unique(targets_.begin(), targets_.end()), targets_.end());
  for (int64_t i : planIndices)
    slotOf_.push_back(static_cast<size_t>(std::lower_bound(targets_.begin(), targets_.end(), i) - targets_.begin()));
  slots_.resize(targets_.size());
  ready_.assign(targets_.size(), false);
}

void FrameFeed::MarkReady(size_t slot) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready_[slot] = true;
  }
  changed_.notify_all();
}

void FrameFeed::Close(std::exception_ptr error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    error_ = error;
  }
  changed_.notify_all();
}

const uint8_t* FrameFeed::Wait(size_t k, const CancelToken& cancel) {
  if (k >= slotOf_.size()) throw Error("ERR_INTERNAL", "frame " + std::to_string(k) + " is not in the plan");
  const size_t slot = slotOf_[k];
  std::unique_lock<std::mutex> lock(mutex_);
  // The decode shares the caller's cancel flag and stops on it, but a short poll keeps an abort
  // prompt whatever the decode is doing.
  while (!ready_[slot] && !closed_) {
    lock.unlock();
    cancel.check();
    lock.lock();
    changed_.wait_for(lock, std::chrono::milliseconds(20), [&] { return ready_[slot] || closed_; });
  }
  if (!ready_[slot]) {
    if (error_) std::rethrow_exception(error_);
    throw Error("ERR_INTERNAL", "the decode ended without frame " + std::to_string(targets_[slot]));
  }
  return slots_[slot].rgb.data();
}


}  // namespace vs2
