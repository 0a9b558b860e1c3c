#include "model/call_slots.h"

#include <chrono>

namespace vs2 {

CallSlots::CallSlots(int32_t cells, int32_t maxCalls, int32_t maxSeqs)
    : cells_(cells), maxCalls_(maxCalls), seqUsed_(static_cast<size_t>(maxSeqs), false), freeSeqs_(maxSeqs) {}

bool CallSlots::Fits(int32_t cells, int32_t seqs) const {
  return calls_ < maxCalls_ && usedCells_ + cells <= cells_ && seqs <= freeSeqs_;
}

CallSlots::Grant CallSlots::Acquire(int32_t cells, int32_t seqs, const CancelToken& cancel) {
  std::unique_lock<std::mutex> lk(m_);
  const auto me = queue_.emplace(queue_.end());
  // Our cancel flag is shared memory set by JavaScript, with no way to wake us: poll it.
  while (queue_.begin() != me || !Fits(cells, seqs)) {
    if (cancel.cancelled()) {
      queue_.erase(me);
      cv_.notify_all();  // the next in line may fit now
      lk.unlock();
      cancel.check();
    }
    cv_.wait_for(lk, std::chrono::milliseconds(20));
  }
  queue_.erase(me);
  Grant g;
  g.cells = cells;
  g.alone = calls_ == 0;
  for (size_t s = 0; s < seqUsed_.size() && static_cast<int32_t>(g.seqs.size()) < seqs; ++s)
    if (!seqUsed_[s]) {
      seqUsed_[s] = true;
      g.seqs.push_back(static_cast<int32_t>(s));
    }
  freeSeqs_ -= seqs;
  usedCells_ += cells;
  ++calls_;
  cv_.notify_all();  // the next in line may fit too
  return g;
}

void CallSlots::Release(const Grant& g) {
  std::lock_guard<std::mutex> lk(m_);
  for (int32_t s : g.seqs) seqUsed_[static_cast<size_t>(s)] = false;
  freeSeqs_ += static_cast<int32_t>(g.seqs.size());
  usedCells_ -= g.cells;
  --calls_;
  cv_.notify_all();
}

}  // namespace vs2
