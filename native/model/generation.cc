// The generation loops of Engine::Generate, after the prefill: think mode samples the chain of
// thought and the answer (with an optional thinking budget); direct mode forces the answer's text
// and reads the digit distribution at each score.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "llama.h"
#include "model/engine.h"
#include "model/llama_log.h"
#include "model/token_sampler.h"

namespace vs2 {
namespace {

// Whether `s` does not end inside a multi-byte UTF-8 sequence, as llama.cpp's grammar decodes it:
// by the lead byte's high nibble alone, so 0xF8..0xFF start 4-byte sequences there too. (Had this
// said "boundary" after such a byte, a forced "</think>" would have been read as the rest of that
// character and dropped, and the "answer" forced after it taken as more thinking.)
bool EndsOnUtf8Boundary(const std::string& s) {
  int i = static_cast<int>(s.size()) - 1, cont = 0;
  while (i >= 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80 && cont < 3) {
    --i;
    ++cont;
  }
  if (i < 0) return cont == 0;
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  const int need = lead < 0x80 ? 0 : lead < 0xC0 ? 0 : lead < 0xE0 ? 1 : lead < 0xF0 ? 2 : 3;
  return cont >= need;
}

}  // namespace

void Engine::FillCandidates(const float* logits, std::vector<llama_token_data>& cand) const {
  const int32_t nVocab = static_cast<int32_t>(cand.size());
  for (int32_t k = 0; k < nVocab; ++k) cand[k] = llama_token_data{k, logits[k], 0.f};
}

void Engine::AppendToken(int sample, int32_t tok, SampleResult& result, const ScoreCallbacks& cb, const float* logits,
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
  if (cb.onToken) cb.onToken(sample, gt, pieceStr);
}

namespace {

// How many characters at the end of `text` begin `word` (a partial close the model was writing).
size_t PartialSuffix(const std::string& text, const std::string& word) {
  for (size_t n = std::min(text.size(), word.size() - 1); n > 0; --n)
    if (text.compare(text.size() - n, n, word, 0, n) == 0) return n;
  return 0;
}

size_t LeadingNewlines(const std::string& s, size_t from = 0) {
  size_t n = 0;
  while (from + n < s.size() && s[from + n] == '\n') ++n;
  return n;
}

// One chain of thought in a batched generation: its sequence in the KV cache, its samplers, its
// logits (copied out, since the next llama_decode overwrites the context's).
struct Chain {
  Chain(const llama_vocab* vocab, const SamplingParams& sp) : sampler(vocab, sp) {}
  TokenSampler sampler;
  SampleResult result;
  int32_t pos = 0;
  std::vector<float> logits;
  bool live = true;
  // Constrained: Think until closeText is written; then each answer segment is forced and the digit
  // after it drawn (nextSegment counts the forced ones); after the last, free (newline, EOS).
  bool closed = false;
  size_t nextSegment = 0;
  bool answeredLast = false;  // the last segment's digit is drawn: the rest is free (newline, EOS)
  std::vector<int32_t> pending;  // appended and accepted, to decode in the next batch
};

}  // namespace

int32_t Engine::AnswerReserve(const SamplingParams& sp) const {
  if (sp.closeText.empty()) return 0;
  auto count = [this](const std::string& t) { return static_cast<int32_t>(Tokenize(t).size()); };
  // The budget closes at a character boundary: up to 3 continuation bytes first.
  int32_t r = 3;
  // What is left of openText and closeText: the longest remainder (the model may have begun them).
  for (const std::string* w : {&sp.openText, &sp.closeText}) {
    int32_t most = 0;
    for (size_t k = 0; k < w->size(); ++k) most = std::max(most, count(w->substr(k)));
    r += most;
  }
  for (size_t i = 0; i < sp.answerSegments.size(); ++i) {
    const std::string& seg = sp.answerSegments[i];
    int32_t most = count(seg);
    // The first segment may follow newlines the closing token already wrote.
    if (i == 0)
      for (size_t k = 1; k <= LeadingNewlines(seg); ++k) most = std::max(most, count(seg.substr(k)));
    r += most + 1;  // + its digit
  }
  return r + 2;  // a final newline the grammar allows, and a step to draw the end of generation
}

// Think mode: `samples` chains from one prefill, all decoded together, one token (or a forced
// segment) per live chain per step; the steps of concurrent calls share a decode (StepBatcher).
// With one sample and no other call this is the plain sampling loop.
void Engine::SampleLoop(const SamplingParams& sp, int32_t pos0, const std::vector<float>& first, GenerateResult& out,
                        Call& call, const ScoreCallbacks& cb) {
  const CancelToken& cancel = call.cancel;
  const int32_t nVocab = llama_vocab_n_tokens(vocab_);
  const int32_t maxTokens = sp.maxTokens;
  const bool constrained = !sp.closeText.empty();
  int32_t closeAt = sp.closeAfterTokens;
  if (constrained) {
    const int32_t reserve = AnswerReserve(sp);
    if (maxTokens <= reserve)
      throw Error("ERR_INVALID_OPTION", "Expected maxTokens > " + std::to_string(reserve) + " with constrain (this model's tokenizer writes the forced answer in up to " +
                                            std::to_string(reserve) + " tokens) but received " + std::to_string(maxTokens));
    closeAt = std::min(closeAt, maxTokens - reserve);
  }
  std::vector<std::unique_ptr<Chain>> chains;
  for (int32_t i = 0; i < sp.samples; ++i) {
    SamplingParams own = sp;
    own.seed = sp.seed + static_cast<uint32_t>(i);  // wraps like a uint32 seed
    auto c = std::make_unique<Chain>(vocab_, own);
    c->pos = pos0;
    c->logits = first;
    c->result.stopReason = "max_tokens";
    chains.push_back(std::move(c));
  }
  if (sp.samples > 1) {
    ContextLock lock(*this, &cancel);
    for (int32_t i = 1; i < sp.samples; ++i) llama_memory_seq_cp(llama_get_memory(ctx_), call.seqs[0], call.seqs[i], -1, -1);
  }
  std::vector<llama_token_data> cand(nVocab);
  StepBatcher::Member member(*batcher_);
  StepBatcher::Step step;

  auto force = [&](int sample, Chain& c, const std::string& text) {
    for (int32_t t : Tokenize(text)) {
      if (c.sampler.grammar) llama_sampler_accept(c.sampler.grammar.get(), t);
      AppendToken(sample, t, c.result, cb, nullptr, nullptr);
      c.pending.push_back(t);
    }
  };
  // After anything was appended: a thinking just closed, or a digit just drawn, is followed by the
  // next answer segment, forced in the same decode.
  auto follow = [&](int sample, Chain& c, bool drewDigit) {
    if (!constrained || sp.answerSegments.empty()) return;
    const std::string& text = c.result.text;
    if (!c.closed) {
      const size_t at = text.find(sp.closeText);
      if (at == std::string::npos) return;
      c.closed = true;
      const std::string tail = text.substr(at + sp.closeText.size());
      const std::string& first = sp.answerSegments[0];
      const size_t lead = LeadingNewlines(first), had = LeadingNewlines(tail);
      const std::string core = first.substr(lead), begun = tail.substr(had);
      if (begun.empty()) {
        force(sample, c, std::string(lead > had ? lead - had : 0, '\n') + core);
      } else {
        if (core.compare(0, begun.size(), begun) != 0)
          throw Error("ERR_INTERNAL", "The answer began with '" + begun + "', which the grammar should not allow");
        force(sample, c, core.substr(begun.size()));
      }
      c.nextSegment = 1;
    } else if (c.nextSegment <= sp.answerSegments.size() && !c.answeredLast) {
      // The token just drawn follows a forced segment: the grammar allows only a digit there.
      if (!drewDigit) throw Error("ERR_INTERNAL", "The grammar let a non-digit through at a score position");
      if (c.nextSegment < sp.answerSegments.size())
        force(sample, c, sp.answerSegments[c.nextSegment++]);
      else
        c.answeredLast = true;
    }
  };

  for (;;) {
    cancel.check();
    step.entries.clear();
    int32_t longest = 0;
    for (int32_t i = 0; i < sp.samples; ++i) {
      Chain& c = *chains[i];
      if (!c.live) continue;
      SampleResult& r = c.result;
      const int32_t n = static_cast<int32_t>(r.tokens.size());
      if (n >= maxTokens) {
        c.live = false;
        continue;
      }
      // (Only at a character boundary: inside a split UTF-8 sequence the grammar would read "<" as
      // part of that character and never see the close.)
      if (constrained && !c.closed && n >= closeAt && EndsOnUtf8Boundary(r.text) &&
          r.text.find(sp.closeText) == std::string::npos) {
        // Thinking budget spent: close it, as if the model had, and let it answer.
        std::string rest;
        const size_t open = sp.openText.empty() ? 0 : r.text.find(sp.openText);
        if (open == std::string::npos)
          rest = sp.openText.substr(PartialSuffix(r.text, sp.openText)) + sp.closeText;
        else
          rest = sp.closeText.substr(PartialSuffix(r.text.substr(open + sp.openText.size()), sp.closeText));
        force(i, c, rest);
        follow(i, c, false);
      } else {
        FillCandidates(c.logits.data(), cand);
        llama_token_data_array cur{cand.data(), cand.size(), -1, false};
        auto refill = [&] {
          FillCandidates(c.logits.data(), cand);
          cur = llama_token_data_array{cand.data(), cand.size(), -1, false};
        };
        if (!c.sampler.Process(cur, refill)) throw Error("ERR_INTERNAL", "The grammar allows no token here (grammar dead end)");
        llama_sampler_apply(c.sampler.pick.get(), &cur);  // reorders, never drops: `cur` still holds `scores`
        if (cur.selected < 0 || cur.selected >= static_cast<int64_t>(cur.size))
          throw Error("ERR_INTERNAL", "The sampler selected no token");
        const llama_token tok = cur.data[cur.selected].id;
        if (c.sampler.grammar) llama_sampler_accept(c.sampler.grammar.get(), tok);
        if (llama_vocab_is_eog(vocab_, tok)) {
          r.stopReason = "eos";
          c.live = false;
          continue;
        }
        AppendToken(i, tok, r, cb, c.logits.data(), &cur);
        longest = std::max(longest, static_cast<int32_t>(r.tokens.size()));
        if (static_cast<int32_t>(r.tokens.size()) >= maxTokens) {
          c.live = false;
          continue;
        }
        c.pending.push_back(tok);
        follow(i, c, r.tokens.back().digit);
      }
      if (static_cast<int32_t>(r.tokens.size()) > maxTokens) {
        c.live = false;  // cannot happen with the reserve; never decode past the budget
        c.pending.clear();
        continue;
      }
      if (c.pending.empty()) throw Error("ERR_INTERNAL", "A live chain has no token to decode");
      for (int32_t t : c.pending) step.entries.push_back({t, c.pos++, call.seqs[i], nullptr});
      step.entries.back().logits = &c.logits;
      c.pending.clear();
    }
    if (cb.onProgress && longest > 0) cb.onProgress(Phase::Generating, longest, maxTokens);
    if (step.entries.empty()) break;
    call.decoded += static_cast<int32_t>(step.entries.size());
    if (member.Submit(step) > 1) ++out.timings.sharedSteps;
  }
  out.samples.clear();
  for (auto& c : chains) out.samples.push_back(std::move(c->result));
}

// Direct mode: the answer's text is forced segment by segment; after each segment the digit
// distribution is read and its most probable digit (by the raw logits) is forced in turn.
void Engine::DirectLoop(TokenSampler& s, const std::vector<std::string>& segments, int32_t pos, std::vector<float> logits,
                        SampleResult& result, Call& call, const ScoreCallbacks& cb) {
  std::vector<llama_token_data> cand(llama_vocab_n_tokens(vocab_));
  // The first segment was prefilled with the prompt; its tokens are part of the answer text.
  for (int32_t t : Tokenize(segments[0])) AppendToken(0, t, result, cb, nullptr, nullptr);
  for (size_t i = 0; i < segments.size(); ++i) {
    call.cancel.check();
    FillCandidates(logits.data(), cand);
    llama_token_data_array cur{cand.data(), cand.size(), -1, false};
    // Nothing is drawn here, so top-k/top-p would only zero digits that fall outside them: the
    // recorded distribution is the temperature-scaled softmax over the whole vocabulary.
    if (s.temp) llama_sampler_apply(s.temp.get(), &cur);
    int best = 0;
    for (int d = 1; d < 5; ++d)
      if (logits[info_.digitTokens[d]] > logits[info_.digitTokens[best]]) best = d;
    const int32_t digit = info_.digitTokens[best];
    AppendToken(0, digit, result, cb, logits.data(), &cur);
    if (cb.onProgress) cb.onProgress(Phase::Generating, static_cast<int>(i + 1), static_cast<int>(segments.size()));
    std::vector<int32_t> next{digit};
    if (i + 1 < segments.size()) {
      auto seg = Tokenize(segments[i + 1]);
      for (int32_t t : seg) AppendToken(0, t, result, cb, nullptr, nullptr);
      next.insert(next.end(), seg.begin(), seg.end());
    } else {
      break;
    }
    DecodeTokens(call, next, pos, &logits);
    pos += static_cast<int32_t>(next.size());
  }
  result.stopReason = "eos";
}

void Engine::RunStep(const std::vector<StepBatcher::Step*>& steps) {
  size_t total = 0;
  for (const auto* st : steps) total += st->entries.size();
  const int32_t nBatch = static_cast<int32_t>(llama_n_batch(ctx_));
  const int32_t cap = static_cast<int32_t>(std::min<size_t>(total, static_cast<size_t>(nBatch)));
  llama_batch batch = llama_batch_init(cap, 0, 1);
  struct BatchFree {
    llama_batch& b;
    ~BatchFree() { llama_batch_free(b); }
  } freeBatch{batch};
  const int32_t nVocab = llama_vocab_n_tokens(vocab_);
  std::vector<std::pair<std::vector<float>*, int32_t>> outputs;  // where, batch index
  // Not cancellable midway: the decode carries other calls' tokens; a step is short.
  ContextLock lock(*this, nullptr);
  auto flush = [&] {
    if (batch.n_tokens == 0) return;
    const int rc = llama_decode(ctx_, batch);
    if (rc != 0) throw Error("ERR_INTERNAL", "llama_decode failed (" + std::to_string(rc) + "): " + TakeLastLogErrors());
    for (auto& [dst, j] : outputs) {
      const float* l = llama_get_logits_ith(ctx_, j);
      dst->assign(l, l + nVocab);
    }
    outputs.clear();
    batch.n_tokens = 0;
  };
  for (const auto* st : steps)
    for (const auto& e : st->entries) {
      if (batch.n_tokens == cap) flush();
      const int32_t j = batch.n_tokens++;
      batch.token[j] = e.token;
      batch.pos[j] = e.pos;
      batch.n_seq_id[j] = 1;
      batch.seq_id[j][0] = e.seq;
      batch.logits[j] = e.logits != nullptr;
      if (e.logits) outputs.emplace_back(e.logits, j);
    }
  flush();
}

}  // namespace vs2
