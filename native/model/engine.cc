#include "model/engine.h"

#include <cstdio>
#include <sstream>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"
#include "mtmd.h"
#include "model/llama_log.h"
#include "model/token_sampler.h"

namespace vs2 {
namespace {

using Clock = std::chrono::steady_clock;

// Samples of one call: sequence ids stay below LLAMA_MAX_SEQ (256), and one step (a token or a
// forced answer segment per chain) stays within a batch.
constexpr int kMaxSamples = 64;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct ChunksDeleter {
  void operator()(mtmd_input_chunks* c) const { mtmd_input_chunks_free(c); }
};
struct BitmapDeleter {
  void operator()(mtmd_bitmap* b) const { mtmd_bitmap_free(b); }
};

// A llama_batch over vectors we own, so an embedding batch can carry 4 position sections.
struct OwnedBatch {
  std::vector<llama_token> token;
  std::vector<float> embd;
  std::vector<llama_pos> pos;
  std::vector<int32_t> nSeq;
  std::vector<llama_seq_id> seq0{0};  // the sequence of every token
  std::vector<llama_seq_id*> seq;
  std::vector<int8_t> logits;

  llama_batch View(int32_t n, bool isEmbd, llama_seq_id id) {
    seq0[0] = id;
    nSeq.assign(n, 1);
    seq.assign(n, seq0.data());
    logits.resize(n);
    return llama_batch{n,
                       isEmbd ? nullptr : token.data(),
                       isEmbd ? embd.data() : nullptr,
                       pos.data(),
                       nSeq.data(),
                       seq.data(),
                       logits.data()};
  }
};

}  // namespace

Engine::~Engine() {
  if (mtmd_) mtmd_free(mtmd_);
  if (ctx_) llama_free(ctx_);
  if (threadpool_) freeThreadpool_(threadpool_);
  if (model_) llama_model_free(model_);
}

// A call's admission into the context (CallSlots) for its span: its sequences start empty, and are
// emptied again when it ends, however it ends.
class Engine::CallScope {
 public:
  CallScope(Engine& e, const CancelToken& cancel, int32_t cells, int32_t seqs) : call{cancel, {}, 0}, e_(e) {
    cancel.check();
    TakeLastLogErrors();
    grant_ = e.slots_->Acquire(cells, seqs, cancel);
    call.seqs = grant_.seqs;
    ContextLock lock(e, nullptr);
    // Alone, the cache is emptied as a whole, so a call's cells are laid out as they always were
    // when it ran by itself: its results do not depend on what ran before it.
    if (grant_.alone)
      llama_memory_clear(llama_get_memory(e.ctx_), true);
    else
      Forget();
  }
  ~CallScope() {
    {
      ContextLock lock(e_, nullptr);
      Forget();
    }
    e_.slots_->Release(grant_);
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
  Call call;

 private:
  void Forget() {
    for (int32_t s : call.seqs) llama_memory_seq_rm(llama_get_memory(e_.ctx_), s, -1, -1);
  }
  Engine& e_;
  CallSlots::Grant grant_;
};

void Engine::DecodeTokens(Call& call, const std::vector<int32_t>& tokens, int32_t pos0, std::vector<float>* lastLogits) {
  const int32_t nBatch = static_cast<int32_t>(llama_n_batch(ctx_));
  OwnedBatch b;
  for (size_t i = 0; i < tokens.size(); i += nBatch) {
    int32_t n = static_cast<int32_t>(std::min<size_t>(nBatch, tokens.size() - i));
    b.token.assign(tokens.begin() + i, tokens.begin() + i + n);
    b.pos.resize(n);
    for (int32_t k = 0; k < n; ++k) b.pos[k] = pos0 + static_cast<int32_t>(i) + k;
    llama_batch batch = b.View(n, false, call.seqs[0]);
    const bool last = i + n == tokens.size();
    std::fill(b.logits.begin(), b.logits.end(), 0);
    if (lastLogits && last) b.logits[n - 1] = 1;
    call.decoded += n;
    ContextLock lock(*this, &call.cancel);
    int rc = llama_decode(ctx_, batch);
    if (rc == 2) call.cancel.check();
    if (rc != 0) throw Error("ERR_INTERNAL", "llama_decode failed (" + std::to_string(rc) + "): " + TakeLastLogErrors());
    // Copied while the context is ours: the next decode, maybe another call's, overwrites it.
    if (lastLogits && last) {
      const float* l = llama_get_logits_ith(ctx_, -1);
      lastLogits->assign(l, l + llama_vocab_n_tokens(vocab_));
    }
  }
}

// Steps 1 and 2 of a score: the chat before the video, then each frame pair encoded and its
// embeddings decoded at HF positions, into the call's first sequence. The context is held for one
// pair at a time (mtmd's output buffer is the next encode's), so concurrent calls take turns.
void Engine::PrefillVideo(const PreparedPrompt& prep, const FrameSource& frames, Timings& t, Call& call,
                          const ScoreCallbacks& cb) {
  const CancelToken& cancel = call.cancel;
  const int W = frames.width, H = frames.height;
  // 1. text before the video
  auto t0 = Clock::now();
  std::vector<int32_t> before(prep.tokens.begin(), prep.tokens.begin() + prep.videoStart);
  DecodeTokens(call, before, 0, nullptr);
  t.prefillMs += MsSince(t0);

  // 2. the video: encode one frame pair, then decode its embeddings at HF positions
  const int32_t nEmbd = llama_model_n_embd_inp(model_);
  const int32_t perPair = prep.gridH * prep.gridW;
  const int32_t nBatch = static_cast<int32_t>(llama_n_batch(ctx_));
  OwnedBatch b;
  for (int32_t g = 0; g < prep.gridT; ++g) {
    cancel.check();
    if (cb.onProgress) cb.onProgress(Phase::Encoding, g, prep.gridT);
    auto tw = Clock::now();
    const uint8_t* first = frames.get(2 * g);
    const uint8_t* second = frames.get(2 * g + 1);
    if (!first || !second) throw Error("ERR_INVALID_OPTION", "Frame pair " + std::to_string(g) + " has no pixels");
    t.frameWaitMs += MsSince(tw);
    ContextLock lock(*this, &cancel);
    auto te = Clock::now();
    std::unique_ptr<mtmd_bitmap, BitmapDeleter> a(mtmd_bitmap_init(W, H, first));
    std::unique_ptr<mtmd_bitmap, BitmapDeleter> c(mtmd_bitmap_init(W, H, second));
    mtmd_bitmap_set_mergeable(a.get(), true);
    mtmd_bitmap_set_mergeable(c.get(), true);
    mtmd_input_part pa{nullptr, a.get()}, pc{nullptr, c.get()};
    const mtmd_input_part* parts[2] = {&pa, &pc};
    std::unique_ptr<mtmd_input_chunks, ChunksDeleter> chunks(mtmd_input_chunks_init());
    if (mtmd_tokenize_from_parts(mtmd_, chunks.get(), parts, 2, false) != 0)
      throw Error("ERR_INTERNAL", "mtmd could not tokenize frame pair " + std::to_string(g) + ": " + TakeLastLogErrors());
    const mtmd_input_chunk* image = nullptr;
    for (size_t i = 0; i < mtmd_input_chunks_size(chunks.get()); ++i) {
      const auto* ch = mtmd_input_chunks_get(chunks.get(), i);
      if (mtmd_input_chunk_get_type(ch) == MTMD_INPUT_CHUNK_TYPE_IMAGE) {
        if (image) throw Error("ERR_INTERNAL", "mtmd did not merge frames " + std::to_string(2 * g) + " and " +
                                                   std::to_string(2 * g + 1) + " into one temporal group");
        image = ch;
      }
    }
    if (!image || static_cast<int32_t>(mtmd_input_chunk_get_n_tokens(image)) != perPair)
      throw Error("ERR_INTERNAL", "mtmd resized the frames: expected " + std::to_string(perPair) + " tokens per pair, got " +
                                      std::to_string(image ? mtmd_input_chunk_get_n_tokens(image) : 0));
    if (mtmd_encode_chunk(mtmd_, image) != 0) {
      cancel.check();
      throw Error("ERR_INTERNAL", "The vision encoder failed on frame pair " + std::to_string(g) + ": " + TakeLastLogErrors());
    }
    const float* embd = mtmd_get_output_embd(mtmd_);
    t.encodeMs += MsSince(te);

    auto tp = Clock::now();
    for (int32_t off = 0; off < perPair; off += nBatch) {
      const int32_t n = std::min(nBatch, perPair - off);
      b.embd.assign(embd + static_cast<size_t>(off) * nEmbd, embd + static_cast<size_t>(off + n) * nEmbd);
      b.pos.assign(static_cast<size_t>(n) * 4, 0);
      for (int32_t k = 0; k < n; ++k) {
        const int32_t idx = prep.videoStart + g * perPair + off + k;
        b.pos[k] = prep.posT[idx];
        b.pos[n + k] = prep.posH[idx];
        b.pos[2 * n + k] = prep.posW[idx];
      }
      llama_batch batch = b.View(n, true, call.seqs[0]);
      std::fill(b.logits.begin(), b.logits.end(), 0);
      call.decoded += n;
      int rc = llama_decode(ctx_, batch);
      if (rc == 2) cancel.check();
      if (rc != 0) throw Error("ERR_INTERNAL", "llama_decode of video tokens failed (" + std::to_string(rc) + "): " + TakeLastLogErrors());
    }
    t.prefillMs += MsSince(tp);
  }
  if (cb.onProgress) cb.onProgress(Phase::Encoding, prep.gridT, prep.gridT);
}

GenerateResult Engine::Generate(const ChatText& text, const FrameSource& frames, const SamplingParams& sp,
                                const CancelToken& cancel, const ScoreCallbacks& cb) {
  return Generate(text, &frames, nullptr, sp, cancel, cb);
}

GenerateResult Engine::Generate(const ChatText& text, const EncodedVideo& video, const SamplingParams& sp,
                                const CancelToken& cancel, const ScoreCallbacks& cb) {
  return Generate(text, nullptr, &video, sp, cancel, cb);
}

GenerateResult Engine::Generate(const ChatText& text, const FrameSource* frames, const EncodedVideo* encoded,
                                const SamplingParams& sp, const CancelToken& cancel, const ScoreCallbacks& cb) {
  cancel.check();
  if (frames && (frames->count < 2 || !frames->get)) throw Error("ERR_INVALID_OPTION", "Expected at least 2 frames");
  if (encoded && (encoded->engine != this || encoded->beforeVideo != text.beforeVideo))
    throw Error("ERR_INVALID_OPTION", "This encoded video was made by another scorer, or with other text before the video");
  PreparedPrompt prep = frames ? Prepare(text, frames->count, frames->width, frames->height)
                               : Prepare(text, encoded->nframes, encoded->width, encoded->height);
  const std::string& forcedText = sp.directSegments.empty() ? sp.forcedText : sp.directSegments[0];
  std::vector<int32_t> forced = forcedText.empty() ? std::vector<int32_t>{} : Tokenize(forcedText);
  if (sp.samples < 1 || sp.samples > kMaxSamples || (sp.samples > 1 && !sp.directSegments.empty()))
    throw Error("ERR_INVALID_OPTION", "Expected samples in [1, " + std::to_string(kMaxSamples) +
                                          "] (1 in direct mode) but received " + std::to_string(sp.samples));
  const int64_t prompt = static_cast<int64_t>(prep.tokens.size() + forced.size());
  const bool streams = info_.streams > 1;
  if (streams && sp.samples > info_.streams)
    throw Error("ERR_INVALID_OPTION", "With parallel: " + std::to_string(info_.streams) + " every chain of thought has a KV stream of its own, so a call takes at most " +
                                          std::to_string(info_.streams) + " samples, not " + std::to_string(sp.samples) +
                                          "; load the scorer with samplesPerCall >= samples, or parallel: 1");
  // Unified, the prompt is stored once and each sample adds its own generated tokens; with
  // streams, each chain holds the prompt and its own tokens in its stream.
  const int64_t needed = streams ? prompt + sp.maxTokens : prompt + int64_t{sp.samples} * sp.maxTokens;
  const int64_t room = streams ? info_.streamCells : info_.contextSize;
  if (needed > room)
    throw Error("ERR_CONTEXT_FULL", "This video needs " + std::to_string(prep.tokens.size()) + " prompt tokens + " +
                                        (sp.samples > 1 && !streams ? std::to_string(sp.samples) + " samples x " : std::string()) +
                                        std::to_string(sp.maxTokens) + " to generate, more than " +
                                        (streams ? "the " + std::to_string(room) + " cells of a KV stream (contextSize / parallel " + std::to_string(info_.streams) + ")"
                                                 : "the context of " + std::to_string(room)) +
                                        "; load the scorer with a larger contextSize, or lower fps/maxPixels/maxTokens" +
                                        (sp.samples > 1 && !streams ? "/samples" : ""));

  CallScope scope(*this, cancel, streams ? 0 : static_cast<int32_t>(needed), sp.samples);
  Call& call = scope.call;
  GenerateResult result;
  result.timings.promptTokens = static_cast<int32_t>(prep.tokens.size() + forced.size());
  if (frames) {
    PrefillVideo(prep, *frames, result.timings, call, cb);
  } else {
    // The prefix as it was computed: the same cells, positions and values, so what follows is
    // computed exactly as after a fresh encode.
    ContextLock lock(*this, &cancel);
    if (llama_state_seq_set_data(ctx_, encoded->state.data(), encoded->state.size(), call.seqs[0]) == 0)
      throw Error("ERR_INTERNAL", "Could not restore the encoded video into the context: " + TakeLastLogErrors());
  }


  // 3. text after the video (+ any forced answer prefix), logits of the last token
  cancel.check();
  if (cb.onProgress) cb.onProgress(Phase::Prefill, 0, 1);
  auto tp = Clock::now();
  std::vector<int32_t> after(prep.tokens.begin() + prep.videoEnd, prep.tokens.end());
  after.insert(after.end(), forced.begin(), forced.end());
  const int32_t afterPos0 = prep.posT[prep.videoEnd];
  std::vector<float> first;
  DecodeTokens(call, after, afterPos0, &first);
  result.timings.prefillMs += MsSince(tp);
  if (cb.onProgress) cb.onProgress(Phase::Prefill, 1, 1);

  if (sp.topLogits > 0) {
    const int32_t nVocab = static_cast<int32_t>(first.size());
    std::vector<std::pair<int32_t, float>> all(nVocab);
    for (int32_t k = 0; k < nVocab; ++k) all[k] = {k, first[k]};
    const size_t n = std::min<size_t>(sp.topLogits, all.size());
    std::partial_sort(all.begin(), all.begin() + n, all.end(), [](auto& a, auto& b) { return a.second > b.second; });
    result.firstTopLogits.assign(all.begin(), all.begin() + n);
  }

  // 4. generation: sampled (think mode), or forced segments with the digits read in between (direct)
  int32_t pos = afterPos0 + static_cast<int32_t>(after.size());
  auto tg = Clock::now();
  if (sp.directSegments.empty()) {
    SampleLoop(sp, pos, first, result, call, cb);
  } else {
    TokenSampler sampler(vocab_, sp);
    result.samples.resize(1);
    DirectLoop(sampler, sp.directSegments, pos, std::move(first), result.samples[0], call, cb);
  }
  result.timings.generateMs = MsSince(tg);
  for (const auto& s : result.samples) result.timings.generatedTokens += static_cast<int32_t>(s.tokens.size());
  result.timings.decodedTokens = call.decoded;
  return result;
}

}  // namespace vs2

namespace vs2 {

std::shared_ptr<const EncodedVideo> Engine::Encode(const std::string& beforeVideo, const FrameSource& frames,
                                                   const CancelToken& cancel, const ScoreCallbacks& cb) {
  cancel.check();
  if (frames.count < 2 || !frames.get) throw Error("ERR_INVALID_OPTION", "Expected at least 2 frames");
  PreparedPrompt prep = Prepare(ChatText{beforeVideo, "", "", ""}, frames.count, frames.width, frames.height);
  const bool streams = info_.streams > 1;
  if (prep.videoEnd > info_.streamCells)
    throw Error("ERR_CONTEXT_FULL", "This video needs " + std::to_string(prep.videoEnd) + " tokens, more than " +
                                        (streams ? "the " + std::to_string(info_.streamCells) + " cells of a KV stream (contextSize / parallel)"
                                                 : "the context of " + std::to_string(info_.streamCells)) +
                                        "; load the scorer with a larger contextSize, or lower fps/maxPixels");
  auto out = std::make_shared<EncodedVideo>();
  CallScope scope(*this, cancel, streams ? 0 : prep.videoEnd, 1);
  PrefillVideo(prep, frames, out->timings, scope.call, cb);
  out->timings.promptTokens = prep.videoEnd;
  out->timings.decodedTokens = scope.call.decoded;
  {
    ContextLock lock(*this, &cancel);
    const int32_t seq = scope.call.seqs[0];
    out->state.resize(llama_state_seq_get_size(ctx_, seq));
    if (llama_state_seq_get_data(ctx_, out->state.data(), out->state.size(), seq) != out->state.size())
      throw Error("ERR_INTERNAL", "Could not copy the encoded video out of the context: " + TakeLastLogErrors());
  }
  out->engine = this;
  out->beforeVideo = beforeVideo;
  out->tokens = prep.videoEnd;
  out->nframes = frames.count;
  out->width = frames.width;
  out->height = frames.height;
  return out;
}

}  // namespace vs2
