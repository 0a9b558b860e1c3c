// The generation loops of Engine::Generate, after the prefill: think mode samples the chain of
// thought and the answer (with an optional thinking budget); direct mode forces the answer's text
// and reads the digit distribution at each score.
#include <algorithm>
#include <string>
#include <vector>

#include "llama.h"
#include "model/engine.h"
#include "model/token_sampler.h"

namespace vs2 {
namespace {

// Whether `s` does not end inside a multi-byte UTF-8 sequence.
bool EndsOnUtf8Boundary(const std::string& s) {
  int i = static_cast<int>(s.size()) - 1, cont = 0;
  while (i >= 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80 && cont < 3) {
    --i;
    ++cont;
  }
  if (i < 0) return cont == 0;
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  const int need = lead < 0x80 ? 0 : (lead >> 5) == 0x6 ? 1 : (lead >> 4) == 0xE ? 2 : (lead >> 3) == 0x1E ? 3 : 0;
  return cont >= need;
}

}  // namespace

void Engine::FillCandidates(const float* logits, std::vector<llama_token_data>& cand) const {
  const int32_t nVocab = static_cast<int32_t>(cand.size());
  for (int32_t k = 0; k < nVocab; ++k) cand[k] = llama_token_data{k, logits[k], 0.f};
}

void Engine::AppendToken(int32_t tok, GenerateResult& result, const ScoreCallbacks& cb, const float* logits,
                         const llama_token_data_array* processed) const {
  char piece[256];
  GeneratedToken gt;
  gt.id = tok;
  int n = llama_token_to_piece(vocab_, tok, piece, sizeof piece, 0, false);
  std::string pieceStr(piece, std::max(n, 0));
  gt.byteOffset = static_cast<uint32_t>(result.text.size());
  gt.byteLength = static_cast<uint32_t>(pieceStr.size());
  if (logits && processed)
    for (int d = 0; d < 5; ++d)
      if (tok == info_.digitTokens[d]) gt.digit = true;
  if (gt.digit) {
    SoftmaxDigits(*processed, info_.digitTokens, gt.probs);
    SoftmaxDigitsRaw(logits, llama_vocab_n_tokens(vocab_), info_.digitTokens, gt.rawProbs);
  }
  result.text += pieceStr;
  result.tokens.push_back(gt);
  if (cb.onToken) cb.onToken(gt, pieceStr);
}

void Engine::SampleLoop(TokenSampler& s, int32_t maxTokens, int32_t closeAfterTokens, const std::string& closeText, int32_t pos,
                        GenerateResult& result, const CancelToken& cancel, const ScoreCallbacks& cb) {
  std::vector<llama_token_data> cand(llama_vocab_n_tokens(vocab_));
  result.stopReason = "max_tokens";
  const std::vector<int32_t> closeTokens = closeText.empty() ? std::vector<int32_t>{} : Tokenize(closeText);
  for (int32_t i = 0; i < maxTokens; ++i) {
    cancel.check();
    // (Only at a character boundary: inside a split UTF-8 sequence the grammar would read "<" as
    // part of that character and never see the close.)
    if (!closeTokens.empty() && i >= closeAfterTokens && EndsOnUtf8Boundary(result.text) &&
        result.text.find(closeText) == std::string::npos) {
      // Thinking budget spent: close it, as if the model had, and let it answer.
      for (int32_t t : closeTokens) {
        if (s.grammar) llama_sampler_accept(s.grammar.get(), t);
        AppendToken(t, result, cb, nullptr, nullptr);
      }
      DecodeTokens(closeTokens, pos, true, cancel);
      pos += static_cast<int32_t>(closeTokens.size());
      i += static_cast<int32_t>(closeTokens.size()) - 1;
      continue;
    }
    const float* logits = llama_get_logits_ith(ctx_, -1);
    FillCandidates(logits, cand);
    llama_token_data_array cur{cand.data(), cand.size(), -1, false};
    auto refill = [&] {
      FillCandidates(logits, cand);
      cur = llama_token_data_array{cand.data(), cand.size(), -1, false};
    };
    if (!s.Process(cur, refill)) throw Error("ERR_INTERNAL", "The grammar allows no token here (grammar dead end)");
    llama_sampler_apply(s.pick.get(), &cur);  // reorders, never drops: `cur` still holds `scores`
    if (cur.selected < 0 || cur.selected >= static_cast<int64_t>(cur.size))
      throw Error("ERR_INTERNAL", "The sampler selected no token");
    const llama_token tok = cur.data[cur.selected].id;
    if (s.grammar) llama_sampler_accept(s.grammar.get(), tok);
    if (llama_vocab_is_eog(vocab_, tok)) {
      result.stopReason = "eos";
      break;
    }
    AppendToken(tok, result, cb, logits, &cur);
    if (cb.onProgress) cb.onProgress(Phase::Generating, i + 1, maxTokens);
    if (i + 1 == maxTokens) break;
    DecodeTokens({tok}, pos++, true, cancel);
  }
}

// Direct mode: the answer's text is forced segment by segment; after each segment the digit
// distribution is read and its most probable digit (by the raw logits) is forced in turn.
void Engine::DirectLoop(TokenSampler& s, const std::vector<std::string>& segments, int32_t pos, GenerateResult& result,
                        const CancelToken& cancel, const ScoreCallbacks& cb) {
  std::vector<llama_token_data> cand(llama_vocab_n_tokens(vocab_));
  // The first segment was prefilled with the prompt; its tokens are part of the answer text.
  for (int32_t t : Tokenize(segments[0])) AppendToken(t, result, cb, nullptr, nullptr);
  for (size_t i = 0; i < segments.size(); ++i) {
    cancel.check();
    const float* logits = llama_get_logits_ith(ctx_, -1);
    FillCandidates(logits, cand);
    llama_token_data_array cur{cand.data(), cand.size(), -1, false};
    // Nothing is drawn here, so top-k/top-p would only zero digits that fall outside them: the
    // recorded distribution is the temperature-scaled softmax over the whole vocabulary.
    if (s.temp) llama_sampler_apply(s.temp.get(), &cur);
    int best = 0;
    for (int d = 1; d < 5; ++d)
      if (logits[info_.digitTokens[d]] > logits[info_.digitTokens[best]]) best = d;
    const int32_t digit = info_.digitTokens[best];
    AppendToken(digit, result, cb, logits, &cur);
    if (cb.onProgress) cb.onProgress(Phase::Generating, static_cast<int>(i + 1), static_cast<int>(segments.size()));
    std::vector<int32_t> next{digit};
    if (i + 1 < segments.size()) {
      auto seg = Tokenize(segments[i + 1]);
      for (int32_t t : seg) AppendToken(t, result, cb, nullptr, nullptr);
      next.insert(next.end(), seg.begin(), seg.end());
    } else {
      break;
    }
    DecodeTokens(next, pos, true, cancel);
    pos += static_cast<int32_t>(next.size());
  }
  result.stopReason = "eos";
}

}  // namespace vs2
