#include "model/step_batcher.h"

namespace vs2 {

StepBatcher::Member::Member(StepBatcher& b) : b_(b) {
  std::lock_guard<std::mutex> lk(b_.m_);
  ++b_.members_;
}

StepBatcher::Member::~Member() {
  std::lock_guard<std::mutex> lk(b_.m_);
  --b_.members_;
  // The others may all be waiting for this member's step, which will not come.
  b_.cv_.notify_all();
}

size_t StepBatcher::Member::Submit(Step& step) {
  std::unique_lock<std::mutex> lk(b_.m_);
  step.done = false;
  step.error = nullptr;
  b_.waiting_.push_back(&step);
  b_.cv_.notify_all();
  for (;;) {
    if (step.done) {
      if (step.error) std::rethrow_exception(step.error);
      return step.roundSize;
    }
    if (!b_.running_ && !b_.waiting_.empty() && static_cast<int>(b_.waiting_.size()) >= b_.members_) {
      b_.running_ = true;
      std::vector<Step*> round;
      round.swap(b_.waiting_);
      lk.unlock();
      std::exception_ptr error;
      try {
        b_.run_(round);
      } catch (...) {
        error = std::current_exception();
      }
      lk.lock();
      for (Step* s : round) {
        s->error = error;
        s->roundSize = round.size();
        s->done = true;
      }
      b_.running_ = false;
      b_.cv_.notify_all();
      continue;
    }
    b_.cv_.wait(lk);
  }
}

}  // namespace vs2
