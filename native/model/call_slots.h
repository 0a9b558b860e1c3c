// Admission of calls into the one llama context that a model has. Plain C++.
//
// The context's KV cells are shared by the calls in it: each call reserves the cells its worst case
// needs (prompt + samples x maxTokens) and one sequence id per chain of thought. Calls are admitted
// in arrival order, up to `maxCalls` at once; one that does not fit beside the calls running waits
// for them to end (a call never fails because others hold cells). A call larger than the whole
// context is the caller's to refuse before it asks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <vector>

#include "common/error.h"

namespace vs2 {

class CallSlots {
 public:
  CallSlots(int32_t cells, int32_t maxCalls, int32_t maxSeqs);

  struct Grant {
    std::vector<int32_t> seqs;
    int32_t cells = 0;
    bool alone = false;  // no other call was in the context when this one was admitted
  };

  // Blocks until this call's turn comes and it fits; throws (ERR_ABORTED, ERR_DISPOSED) when
  // `cancel` is raised while it waits.
  Grant Acquire(int32_t cells, int32_t seqs, const CancelToken& cancel);
  void Release(const Grant& g);

 private:
  bool Fits(int32_t cells, int32_t seqs) const;

  const int32_t cells_, maxCalls_;
  std::mutex m_;
  std::condition_variable cv_;
  int32_t usedCells_ = 0, calls_ = 0;
  std::vector<bool> seqUsed_;
  int32_t freeSeqs_;
  std::list<char> queue_;  // one entry per waiting call, first come first: its place in line
};

}  // namespace vs2
