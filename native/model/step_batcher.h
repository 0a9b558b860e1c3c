// Joins the generation steps of the calls that generate at the same time into one decode. Plain C++:
// the decode itself is the caller's `run` function.
//
// Each member (a call in its generation loop) submits its step (a token, or a forced segment, for
// each of its live chains) and waits. When every member has submitted, the one whose submission
// completed the round runs it for all of them, so one llama_decode carries one step of every call
// and no thread of its own is needed. A member that leaves (done, failed, cancelled) no longer holds
// the others back.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

namespace vs2 {

class StepBatcher {
 public:
  struct Entry {
    int32_t token = 0;
    int32_t pos = 0;
    int32_t seq = 0;
    std::vector<float>* logits = nullptr;  // where this token's logits go; null: none wanted
  };
  struct Step {
    std::vector<Entry> entries;
    bool done = false;
    size_t roundSize = 0;
    std::exception_ptr error;  // of the round's run, given to every step in it
  };
  // Decodes the entries of all the steps of a round, in order, and fills their `logits`.
  using Run = std::function<void(const std::vector<Step*>& steps)>;

  explicit StepBatcher(Run run) : run_(std::move(run)) {}

  // Membership for the span of one call's generation loop.
  class Member {
   public:
    explicit Member(StepBatcher& b);
    ~Member();
    Member(const Member&) = delete;
    Member& operator=(const Member&) = delete;
    // Blocks until the round holding `step` has run; rethrows the run's error. Returns how many
    // steps (this one included) the round carried.
    size_t Submit(Step& step);

   private:
    StepBatcher& b_;
  };

 private:
  Run run_;
  std::mutex m_;
  std::condition_variable cv_;
  int members_ = 0;
  bool running_ = false;
  std::vector<Step*> waiting_;
};

}  // namespace vs2
