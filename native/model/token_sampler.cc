#include "model/token_sampler.h"

#include <algorithm>
#include <cmath>

#include "model/llama_log.h"

namespace vs2 {
namespace {

bool AnyFinite(const llama_token_data_array& cur) {
  for (size_t i = 0; i < cur.size; ++i)
    if (std::isfinite(cur.data[i].logit)) return true;
  return false;
}

}  // namespace

TokenSampler::TokenSampler(const llama_vocab* vocab, const SamplingParams& sp) : greedy(sp.temperature <= 0) {
  if (!sp.grammar.empty()) {
    grammar.reset(llama_sampler_init_grammar(vocab, sp.grammar.c_str(), "root"));
    if (!grammar) throw Error("ERR_INVALID_OPTION", "The grammar does not parse: " + TakeLastLogErrors());
  }
  if (!greedy) {
    if (sp.topK > 0) topK.reset(llama_sampler_init_top_k(sp.topK));
    temp.reset(llama_sampler_init_temp(sp.temperature));
    if (sp.topP < 1.0f) topP.reset(llama_sampler_init_top_p(sp.topP, 1));
    pick.reset(llama_sampler_init_dist(sp.seed));
  } else {
    pick.reset(llama_sampler_init_greedy());
  }
}

bool TokenSampler::Process(llama_token_data_array& cur, const std::function<void()>& refill) const {
  if (topK) llama_sampler_apply(topK.get(), &cur);
  if (grammar) {
    llama_sampler_apply(grammar.get(), &cur);
    // top-k left the array sorted, but the grammar may have masked its head: later samplers
    // (dist takes data[0] as the max when `sorted`) must not rely on the order any more.
    cur.sorted = false;
    if (!AnyFinite(cur)) {
      refill();
      llama_sampler_apply(grammar.get(), &cur);
      if (!AnyFinite(cur)) return false;
      if (topK) llama_sampler_apply(topK.get(), &cur);
    }
  }
  if (temp) llama_sampler_apply(temp.get(), &cur);
  if (topP) llama_sampler_apply(topP.get(), &cur);
  return true;
}

void SoftmaxDigits(const llama_token_data_array& cur, const std::array<int32_t, 5>& digits, std::array<float, 5>& out) {
  float maxLogit = -INFINITY;
  for (size_t i = 0; i < cur.size; ++i) maxLogit = std::max(maxLogit, cur.data[i].logit);
  double sum = 0;
  for (size_t i = 0; i < cur.size; ++i)
    if (std::isfinite(cur.data[i].logit)) sum += std::exp(double(cur.data[i].logit) - maxLogit);
  out.fill(0.f);
  for (size_t i = 0; i < cur.size; ++i)
    for (int d = 0; d < 5; ++d)
      if (cur.data[i].id == digits[d] && std::isfinite(cur.data[i].logit))
        out[d] = static_cast<float>(std::exp(double(cur.data[i].logit) - maxLogit) / sum);
}

void SoftmaxDigitsRaw(const float* logits, int32_t nVocab, const std::array<int32_t, 5>& digits,
                      std::array<float, 5>& out) {
  float maxLogit = -INFINITY;
  for (int32_t i = 0; i < nVocab; ++i) maxLogit = std::max(maxLogit, logits[i]);
  double sum = 0;
  for (int32_t i = 0; i < nVocab; ++i) sum += std::exp(double(logits[i]) - maxLogit);
  for (int d = 0; d < 5; ++d) out[d] = static_cast<float>(std::exp(double(logits[digits[d]]) - maxLogit) / sum);
}

}  // namespace vs2
