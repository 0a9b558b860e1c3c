// Token sampling as transformers does it for VideoScore2's generate(), over llama.cpp's samplers,
// and the digit probabilities the soft scores are made of.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include "llama.h"
#include "model/engine.h"

namespace vs2 {

struct SamplerDeleter {
  void operator()(llama_sampler* s) const { llama_sampler_free(s); }
};
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

// The samplers of one call: grammar (optional), then top-k, temperature, top-p and the draw, in
// transformers' order (temperature before top-p; top-k commutes with temperature).
class TokenSampler {
 public:
  TokenSampler(const llama_vocab* vocab, const SamplingParams& sp);

  // Applies everything but the draw: `cur` is then the distribution transformers calls `scores`.
  // The grammar runs on the top-k survivors (checking 150k token texts against a grammar at every
  // step is the slow part of constrained sampling); only when none of them is allowed does it run
  // on the whole vocabulary (`refill` restores it), before top-k. False when nothing is allowed.
  bool Process(llama_token_data_array& cur, const std::function<void()>& refill) const;

  SamplerPtr grammar, topK, temp, topP, pick;
  bool greedy;
};

// p("1")..p("5") under a processed candidate array (temperature, top-k, top-p, grammar applied)
// and under the raw logits.
void SoftmaxDigits(const llama_token_data_array& cur, const std::array<int32_t, 5>& digits, std::array<float, 5>& out);
void SoftmaxDigitsRaw(const float* logits, int32_t nVocab, const std::array<int32_t, 5>& digits, std::array<float, 5>& out);

}  // namespace vs2
