// Qwen2.5-VL scoring engine over llama.cpp + mtmd. Plain C++: no N-API types.
//
// mtmd is used only for the vision encoder (one frame pair at a time, exact because the encoder
// attends within a temporal group). The decode batch is ours: ONE video block after <|vision_start|>
// with the positions transformers' get_rope_index gives (docs/reference.md §3), not mtmd's one-chunk-per-pair
// layout.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "model/call_slots.h"
#include "model/step_batcher.h"

struct llama_model;
struct llama_context;
struct llama_vocab;
struct mtmd_context;
struct llama_token_data;
struct llama_token_data_array;
struct ggml_threadpool;

namespace vs2 {

// The defaults of these parameters and of SamplingParams are the caller's (src/scorer/options.ts
// for the library): every field is set by whoever builds one.
struct EngineParams {
  std::string modelPath;
  std::string mmprojPath;
  int gpuLayers = 0;    // -1 = all
  int threads = 0;      // 0 = hardware concurrency
  int contextSize = 0;  // KV cache, tokens
  int batchSize = 0;    // tokens per llama_decode
  bool flashAttention = false;        // text model
  bool flashAttentionVision = false;  // vision encoder
  int parallel = 1;  // calls in the context at once; their generation steps share each llama_decode
  int samplesPerCall = 1;  // with parallel > 1: KV streams per call (one per chain of thought)
  // ggml's name of the one GPU to use ("Vulkan0"); "" = every GPU ggml sees when gpuLayers != 0
  // (the monolithic CUDA build), none when gpuLayers == 0.
  std::string device;
};

// One backend buffer that loading made, from llama.cpp's and clip's own reports of them.
struct BufferInfo {
  std::string device;  // "CPU", "Vulkan0", "CUDA0", "CPU_Mapped", ...
  std::string kind;    // "model", "kv", "compute", "vision"
  double mib = 0;
};

// The frames of one score: `count` frames of width x height in packed RGB24, each fetched when the
// vision encoder reaches its pair, so a source may still be decoding the later ones (FrameFeed).
// `get` blocks until frame k is there and may throw (the decode's error, or an abort).
struct FrameSource {
  int count = 0;
  int width = 0;
  int height = 0;
  std::function<const uint8_t*(int k)> get;
};

// The token sequence of one score call and the (t, h, w) position of every token.
struct PreparedPrompt {
  std::vector<int32_t> tokens;  // video tokens carry the <|video_pad|> id
  std::vector<int32_t> posT, posH, posW;
  int32_t videoStart = 0;  // index of the first video token
  int32_t videoEnd = 0;    // one past the last video token
  int32_t nextPos = 0;     // position of the first generated token
  int32_t gridT = 0, gridH = 0, gridW = 0;  // merged grid: pairs x rows x columns
};

// The chat text around one video. The markup parts hold the chat template's own control tokens
// (<|im_start|>, <|vision_end|>, ...) and are tokenized with special tokens recognised; userText is
// what the caller supplied (prompt, custom template) and is tokenized as plain text, so a prompt that
// contains "<|im_end|>" cannot end the user turn or inject video placeholders.
struct ChatText {
  std::string beforeVideo;  // markup, ends with <|vision_start|>
  std::string afterVideo;   // markup, starts with <|vision_end|>
  std::string userText;     // plain text
  std::string afterText;    // markup: end of the user turn and the assistant header
};

struct SamplingParams {
  float temperature = 0;  // <= 0: greedy
  int32_t topK = 0;       // <= 0: off
  float topP = 1.0f;      // >= 1: off
  uint32_t seed = 0;
  int32_t maxTokens = 0;
  std::string grammar;       // GBNF; empty = unconstrained
  std::string forcedText;    // appended after the prompt before generation (e.g. a closed <think>)
  // A thinking budget (constrain), active when closeText is set: once closeAfterTokens tokens are
  // generated and closeText has not appeared, what is left of openText + closeText is forced
  // (grammar-accepted). Once the thinking is closed, by the model or the budget, answerSegments are
  // forced with one digit drawn after each: only the digits are the model's, so the answer's length
  // is known. The budget is capped at maxTokens - AnswerReserve() so that the answer always fits.
  int32_t closeAfterTokens = 0;
  std::string openText;
  std::string closeText;
  std::vector<std::string> answerSegments;
  // Chains of thought drawn from one prefill (the prompt's memory is shared, not copied); chain i
  // uses seed + i.
  int32_t samples = 1;
  // Report the N highest raw logits (ids and values) at the first generated position (parity checks).
  int32_t topLogits = 0;
  // Direct mode when not empty: the answer is these segments with one digit read after each.
  std::vector<std::string> directSegments;
};

struct GeneratedToken {
  int32_t id = 0;
  uint32_t byteOffset = 0;  // where its piece starts in GenerateResult::text (UTF-8 bytes)
  uint32_t byteLength = 0;
  // For digit tokens "1".."5" only: p("1").."p("5") under the processed distribution (temperature,
  // top-k, top-p, grammar: what transformers returns as `scores`) and under the raw logits.
  bool digit = false;
  std::array<float, 5> probs{};
  std::array<float, 5> rawProbs{};
};

struct Timings {
  double encodeMs = 0, prefillMs = 0, generateMs = 0;
  double frameWaitMs = 0;  // spent waiting for frames still being decoded
  int32_t promptTokens = 0, generatedTokens = 0;
  int32_t decodedTokens = 0;  // given to llama_decode, prompt included: what the samples share is counted once
  int32_t sharedSteps = 0;    // generation steps decoded together with other calls' steps
};

// One chain of thought and its answer.
struct SampleResult {
  std::string text;
  std::vector<GeneratedToken> tokens;
  std::string stopReason;  // "eos" | "max_tokens"
};

struct GenerateResult {
  std::vector<std::pair<int32_t, float>> firstTopLogits;  // SamplingParams::topLogits at position 0
  std::vector<SampleResult> samples;  // SamplingParams::samples of them, in seed order
  Timings timings;  // generatedTokens: over all samples
};

enum class Phase { Encoding, Prefill, Generating };

struct ScoreCallbacks {
  // Called from the worker thread after each generated token of sample `sample` with its bytes.
  std::function<void(int sample, const GeneratedToken&, const std::string& piece)> onToken;
  std::function<void(Phase, int done, int total)> onProgress;
};

// Tokens per frame (after the 2x2 merge) the engine accepts: qwen-vl-utils' MAX_PIXELS / 28².
constexpr int kMaxFrameTokens = 16384;
// Sequence ids a unified KV cache takes (llama.cpp's LLAMA_MAX_SEQ, not in its public header).
constexpr int kMaxSeqs = 256;

// Bytes of text the longest token of the vocabulary covers (control tokens included): no prompt of
// more than n_ctx times that many bytes fits a context of n_ctx.
int32_t LongestTokenBytes(const llama_vocab* vocab);

struct ModelInfo {
  std::string architecture, name;
  int32_t nEmbd = 0, nLayer = 0, nCtxTrain = 0, nVocab = 0;
  int32_t contextSize = 0;  // of the context created (llama.cpp may round it)
  int64_t nParams = 0;
  uint64_t sizeBytes = 0;
  std::array<int32_t, 5> digitTokens{};
  bool visionOnGpu = false;  // the vision encoder runs on a GPU (leaving the CPU to frame decoding)
  int32_t maxTokenBytes = 1;  // LongestTokenBytes of its vocabulary
  int32_t threads = 0;       // CPU threads of llama.cpp and the vision encoder
  int32_t parallel = 1;      // EngineParams::parallel
  int32_t streams = 1;       // KV streams: 1 (unified), or parallel x samplesPerCall, one per chain of thought
  int32_t streamCells = 0;   // cells a chain of thought can use: contextSize, or contextSize / streams
  std::string device;        // the GPU used ("" = none)
  std::string visionDevice;  // the vision encoder's backend ("CPU", "Vulkan0", ...)
  int32_t offloadedLayers = 0;  // of nLayer + 1 (the output layer counts as one, as llama.cpp counts)
  std::vector<BufferInfo> buffers;
};

// The chat before the video and the video, encoded and prefilled once (Engine::Encode), for any
// number of prompts: the KV cells of that prefix, copied out of the context. Immutable; only the
// Engine that made it takes it.
struct EncodedVideo {
  const void* engine = nullptr;
  std::string beforeVideo;
  std::vector<uint8_t> state;  // llama_state_seq_get_data of sequence 0
  int32_t tokens = 0;          // cells it holds
  int32_t nframes = 0, width = 0, height = 0;
  Timings timings;             // of the encode
};

class TokenSampler;

class Engine {
 public:
  static std::unique_ptr<Engine> Load(const EngineParams& params);
  ~Engine();

  const ModelInfo& info() const { return info_; }

  // Tokenizes the prompt around one video of nframes frames (even) at width x height and computes
  // every position. No vision encode, no decode.
  PreparedPrompt Prepare(const ChatText& text, int nframes, int width, int height) const;

  // Tokens the constrained answer can take after the thinking budget closes the thinking, as this
  // model's tokenizer writes it (SamplingParams::closeText and answerSegments).
  int32_t AnswerReserve(const SamplingParams& sampling) const;

  // Encodes the frames, prefills, generates. Up to EngineParams::parallel calls run at once (more
  // wait their turn, first come first): their prefills take turns, and their generation steps are
  // decoded together.
  GenerateResult Generate(const ChatText& text, const FrameSource& frames,
                          const SamplingParams& sampling,
                          const CancelToken& cancel, const ScoreCallbacks& callbacks);
  // The same after an Encode: the prefix is restored, not computed; the text from afterVideo on is
  // the call's own (text.beforeVideo must be the encode's).
  GenerateResult Generate(const ChatText& text, const EncodedVideo& video, const SamplingParams& sampling,
                          const CancelToken& cancel, const ScoreCallbacks& callbacks);
  // Encodes the frames and prefills the chat before them and them, once for many prompts.
  std::shared_ptr<const EncodedVideo> Encode(const std::string& beforeVideo, const FrameSource& frames,
                                             const CancelToken& cancel, const ScoreCallbacks& callbacks);

 private:
  Engine() = default;
  // One call in the context: its cancel token, its chains' sequence ids (seqs[0] holds the prompt),
  // and the tokens it gave llama_decode (Timings::decodedTokens).
  struct Call {
    const CancelToken& cancel;
    std::vector<int32_t> seqs;
    int32_t decoded = 0;
  };
  class CallScope;
  // The llama context and the vision encoder, one user at a time (two at once would also fight over
  // the CPU cores); `cancel` is what llama's abort callback reads meanwhile (none for a batched
  // step, which carries other calls' tokens).
  class ContextLock {
   public:
    ContextLock(Engine& e, const CancelToken* cancel) : e_(e), lock_(e.ctxMutex_) { e_.activeCancel_ = cancel; }
    ~ContextLock() { e_.activeCancel_ = nullptr; }

   private:
    Engine& e_;
    std::lock_guard<std::mutex> lock_;
  };

  // parseSpecial: control-token strings become their tokens (our markup only, never user text).
  std::vector<int32_t> Tokenize(const std::string& text, bool parseSpecial = true) const;
  void FillCandidates(const float* logits, std::vector<::llama_token_data>& cand) const;
  void AppendToken(int sample, int32_t tok, SampleResult& result, const ScoreCallbacks& cb, const float* logits,
                   const ::llama_token_data_array* processed) const;
  void SampleLoop(const SamplingParams& sp, int32_t pos, const std::vector<float>& first, GenerateResult& result,
                  Call& call, const ScoreCallbacks& cb);
  void DirectLoop(TokenSampler& s, const std::vector<std::string>& segments, int32_t pos, std::vector<float> logits,
                  SampleResult& result, Call& call, const ScoreCallbacks& cb);
  // Decodes text tokens into the call's first sequence; `lastLogits`: where the last one's go.
  void DecodeTokens(Call& call, const std::vector<int32_t>& tokens, int32_t pos0, std::vector<float>* lastLogits);
  // One round of the step batcher: every call's step in as few llama_decode calls as the batch allows.
  void RunStep(const std::vector<StepBatcher::Step*>& steps);
  GenerateResult Generate(const ChatText& text, const FrameSource* frames, const EncodedVideo* encoded,
                          const SamplingParams& sampling, const CancelToken& cancel, const ScoreCallbacks& callbacks);
  void PrefillVideo(const PreparedPrompt& prep, const FrameSource& frames, Timings& timings, Call& call,
                    const ScoreCallbacks& callbacks);

  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  ggml_threadpool* threadpool_ = nullptr;
  void (*freeThreadpool_)(ggml_threadpool*) = nullptr;
  friend void AttachThreadpool(Engine& e, int threads);
  mtmd_context* mtmd_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  int32_t videoPadToken_ = -1;
  EngineParams params_;
  ModelInfo info_;
  std::mutex ctxMutex_;
  const CancelToken* activeCancel_ = nullptr;  // read by llama's abort callback
  std::unique_ptr<CallSlots> slots_;
  std::unique_ptr<StepBatcher> batcher_;
};


}  // namespace vs2
