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

// Tokens per frame (after the 2x2 merge) the engine accepts: qwen-vl-utils' MAX_PIXELS / 28².
constexpr int kMaxFrameTokens = 16384;
// Samples of one call: sequence ids stay below LLAMA_MAX_SEQ (256), and one step (a token or a
// forced answer segment per chain) stays within a batch.
constexpr int kMaxSamples = 64;
// Sequence ids a unified KV cache takes (llama.cpp's LLAMA_MAX_SEQ, not in its public header).
constexpr int kMaxSeqs = 256;

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

std::once_flag gBackendOnce;

// Where loading put things, read from llama.cpp's and clip's info lines (the pinned tree's wording):
// "load_tensors: offloaded 3/3 layers to GPU", "load_tensors:   Vulkan0 model buffer size =  12.50 MiB",
// "llama_kv_cache:  Vulkan0 KV buffer size = ...", "sched_reserve:  Vulkan0 compute buffer size = ...",
// "clip_ctx: CLIP using Vulkan0 backend".
struct BufferLog {
  int32_t offloaded = 0;
  std::string visionBackend;
  std::vector<BufferInfo> buffers;
  bool inVision = false;
  void Add(const char* text) {
    std::string t(text);
    int a = 0, b = 0;
    if (const auto p = t.find("offloaded "); p != std::string::npos && std::sscanf(t.c_str() + p, "offloaded %d/%d", &a, &b) == 2) {
      offloaded = a;
      return;
    }
    if (const auto p = t.find("CLIP using "); p != std::string::npos) {
      char name[64] = {0};
      if (std::sscanf(t.c_str() + p, "CLIP using %63s backend", name) == 1) visionBackend = name;
      inVision = true;
      return;
    }
    const auto size = t.find(" buffer size = ");
    if (size == std::string::npos) return;
    double mib = 0;
    if (std::sscanf(t.c_str() + size, " buffer size = %lf", &mib) != 1) return;
    // "<prefix>: <spaces><device> <kind words> buffer size"
    auto colon = t.find(':');
    std::string words = t.substr(colon == std::string::npos ? 0 : colon + 1, size - (colon == std::string::npos ? 0 : colon + 1));
    std::istringstream in(words);
    std::string device, rest, w;
    in >> device;
    while (in >> w) rest += (rest.empty() ? "" : " ") + w;
    std::string kind = rest == "KV" ? "kv" : rest;  // "model", "compute", "output" as llama.cpp writes them
    if (inVision) kind = "vision " + kind;
    buffers.push_back({device, kind, mib});
  }
};

}  // namespace

std::unique_ptr<Engine> Engine::Load(const EngineParams& params) {
  InstallLogHandler();
  std::call_once(gBackendOnce, [] { llama_backend_init(); });
  TakeLastLogErrors();
  std::unique_ptr<Engine> e(new Engine());
  e->params_ = params;

  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = params.gpuLayers < 0 ? 999 : params.gpuLayers;
  mp.load_mode = LLAMA_LOAD_MODE_MMAP;
  // The device list is ours: the chosen GPU alone, or none at all on the CPU. With llama.cpp's
  // default (every GPU ggml sees), a CPU-only load would still hand large batches to any device
  // loaded in the process (a software Vulkan device among them).
  ggml_backend_dev_t gpu = nullptr;
  if (!params.device.empty()) {
    gpu = ggml_backend_dev_by_name(params.device.c_str());
    if (!gpu)
      throw Error("ERR_GPU_UNAVAILABLE", "No device named " + params.device +
                                             " is loaded in this process; list them with versions().gpuDevices");
  }
  ggml_backend_dev_t devices[2] = {gpu, nullptr};
  if (gpu || params.gpuLayers == 0) mp.devices = gpu ? devices : devices + 1;
  const bool useGpu = params.gpuLayers != 0;
  BufferLog placement;
  ScopedInfoListener listen([&placement](const char* text) { placement.Add(text); });
  e->model_ = llama_model_load_from_file(params.modelPath.c_str(), mp);
  if (!e->model_) {
    std::string why = TakeLastLogErrors();
    throw Error("ERR_MODEL_LOAD", "Cannot load the text model " + params.modelPath +
                                      (why.empty() ? "" : ": " + why) +
                                      "; give a VideoScore2 / Qwen2.5-VL text GGUF (see the README on converting)");
  }
  char buf[256] = {0};
  if (llama_model_meta_val_str(e->model_, "general.architecture", buf, sizeof buf) >= 0) e->info_.architecture = buf;
  if (llama_model_meta_val_str(e->model_, "general.name", buf, sizeof buf) >= 0) e->info_.name = buf;
  if (e->info_.architecture != "qwen2vl")
    throw Error("ERR_MODEL_MISMATCH", params.modelPath + " is a '" + e->info_.architecture +
                                          "' model, not a Qwen2.5-VL text model (architecture 'qwen2vl')");
  e->vocab_ = llama_model_get_vocab(e->model_);
  e->info_.nEmbd = llama_model_n_embd(e->model_);
  e->info_.nLayer = llama_model_n_layer(e->model_);
  e->info_.nCtxTrain = llama_model_n_ctx_train(e->model_);
  e->info_.nVocab = llama_vocab_n_tokens(e->vocab_);
  e->info_.nParams = static_cast<int64_t>(llama_model_n_params(e->model_));
  e->info_.sizeBytes = llama_model_size(e->model_);

  for (int d = 0; d < 5; ++d) {
    auto t = e->Tokenize(std::to_string(d + 1));
    if (t.size() != 1)
      throw Error("ERR_MODEL_MISMATCH", "The tokenizer of " + params.modelPath + " does not have a single token for the digit " +
                                            std::to_string(d + 1) + "; it is not a Qwen2.5 tokenizer");
    e->info_.digitTokens[d] = t[0];
  }
  auto pad = e->Tokenize("<|video_pad|>");
  if (pad.size() != 1)
    throw Error("ERR_MODEL_MISMATCH", "The tokenizer of " + params.modelPath + " has no <|video_pad|> token");
  e->videoPadToken_ = pad[0];

  const int threads = params.threads > 0 ? params.threads : std::max(1u, std::thread::hardware_concurrency());
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = params.contextSize;
  cp.n_batch = params.batchSize;
  cp.n_ubatch = params.batchSize;
  // One unified KV buffer: sequences that share a prefix (samples) share its cells, so
  // llama_memory_seq_cp only tags them and a sample costs its own tokens, never the prompt's again.
  // (With one stream per sequence, each would get n_ctx / n_seq_max and seq_cp would copy.)
  // Unified, llama.cpp accepts sequence ids up to LLAMA_MAX_SEQ whatever n_seq_max says.
  cp.n_seq_max = 1;
  cp.kv_unified = true;
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  cp.flash_attn_type = params.flashAttention ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.no_perf = true;
  cp.abort_callback = [](void* self) -> bool {
    auto* engine = static_cast<Engine*>(self);
    return engine->activeCancel_ && engine->activeCancel_->cancelled();
  };
  cp.abort_callback_data = e.get();
  e->ctx_ = llama_init_from_model(e->model_, cp);
  if (!e->ctx_) {
    std::string why = TakeLastLogErrors();
    throw Error("ERR_MODEL_LOAD", "Cannot create a context of " + std::to_string(params.contextSize) + " tokens" +
                                      (why.empty() ? "" : ": " + why) + "; lower contextSize or free memory");
  }
  e->info_.contextSize = static_cast<int32_t>(llama_n_ctx(e->ctx_));
  e->info_.parallel = std::clamp(params.parallel, 1, kMaxSeqs);
  e->slots_ = std::make_unique<CallSlots>(e->info_.contextSize, e->info_.parallel, kMaxSeqs);
  Engine* raw = e.get();
  e->batcher_ = std::make_unique<StepBatcher>([raw](const std::vector<StepBatcher::Step*>& steps) { raw->RunStep(steps); });

  mtmd_context_params vp = mtmd_context_params_default();
  vp.use_gpu = useGpu;
  vp.device = gpu;
  vp.n_threads = threads;
  vp.print_timings = false;
  vp.warmup = false;
  vp.flash_attn_type = params.flashAttentionVision ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  // mtmd resizes an image whose token count is outside the projector's range (Qwen2.5-VL: 8..4096);
  // our frames are already planned by qwen-vl-utils' rules, so any planned size must pass as is.
  vp.image_min_tokens = 1;
  vp.image_max_tokens = kMaxFrameTokens;
  e->mtmd_ = mtmd_init_from_file(params.mmprojPath.c_str(), e->model_, vp);
  if (!e->mtmd_) {
    std::string why = TakeLastLogErrors();
    bool mismatch = why.find("mismatch") != std::string::npos || why.find("n_embd") != std::string::npos;
    throw Error(mismatch ? "ERR_MODEL_MISMATCH" : "ERR_MODEL_LOAD",
                "Cannot load the vision projector " + params.mmprojPath + (why.empty() ? "" : ": " + why) +
                    "; give the mmproj GGUF converted from the same checkpoint as the text model");
  }
  if (!mtmd_support_vision(e->mtmd_) || !mtmd_decode_use_mrope(e->mtmd_))
    throw Error("ERR_MODEL_MISMATCH", params.mmprojPath + " is not a Qwen2-VL-style vision projector (no M-RoPE vision)");
  e->info_.device = params.device;
  e->info_.offloadedLayers = placement.offloaded;
  e->info_.buffers = std::move(placement.buffers);
  e->info_.visionDevice = placement.visionBackend.empty() ? "CPU" : placement.visionBackend;
  e->info_.visionOnGpu = useGpu && e->info_.visionDevice != "CPU";
  e->info_.threads = threads;
  return e;
}

Engine::~Engine() {
  if (mtmd_) mtmd_free(mtmd_);
  if (ctx_) llama_free(ctx_);
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

std::vector<int32_t> Engine::Tokenize(const std::string& text, bool parseSpecial) const {
  const auto len = static_cast<int32_t>(text.size());
  int32_t n = -llama_tokenize(vocab_, text.data(), len, nullptr, 0, false, parseSpecial);
  std::vector<int32_t> out(std::max(n, 0));
  if (n > 0) llama_tokenize(vocab_, text.data(), len, out.data(), n, false, parseSpecial);
  return out;
}

PreparedPrompt Engine::Prepare(const ChatText& text, int nframes, int width, int height) const {
  constexpr int kCell = 28;  // patch 14 x spatial merge 2
  if (nframes < 2 || nframes % 2 != 0)
    throw Error("ERR_INVALID_OPTION", "Expected an even number of frames >= 2 but received " + std::to_string(nframes));
  if (width <= 0 || height <= 0 || width % kCell != 0 || height % kCell != 0)
    throw Error("ERR_INVALID_OPTION", "Expected frame sizes that are multiples of 28 but received " +
                                          std::to_string(width) + "x" + std::to_string(height));
  if (static_cast<int64_t>(width / kCell) * (height / kCell) > kMaxFrameTokens)
    throw Error("ERR_VIDEO_LIMITS", "Frames of " + std::to_string(width) + "x" + std::to_string(height) + " are " +
                                        std::to_string((width / kCell) * (height / kCell)) + " tokens each, more than the " +
                                        std::to_string(kMaxFrameTokens) + " the vision encoder takes; lower maxPixels");
  PreparedPrompt p;
  p.gridT = nframes / 2;
  p.gridH = height / kCell;
  p.gridW = width / kCell;
  auto before = Tokenize(text.beforeVideo);
  // Tokenizing the plain part on its own equals tokenizing the whole: with special tokens
  // recognised, llama.cpp splits the text at them and tokenizes the pieces between separately.
  auto after = Tokenize(text.afterVideo);
  for (const auto* part : {&text.userText, &text.afterText}) {
    auto t = Tokenize(*part, part == &text.afterText);
    after.insert(after.end(), t.begin(), t.end());
  }
  int32_t pos = 0;
  // Text tokens sit at one position on all three M-RoPE axes, one after another.
  auto appendText = [&](const std::vector<int32_t>& text) {
    for (int32_t t : text) {
      p.tokens.push_back(t);
      p.posT.push_back(pos);
      p.posH.push_back(pos);
      p.posW.push_back(pos);
      ++pos;
    }
  };
  appendText(before);
  const int32_t s = pos;
  p.videoStart = static_cast<int32_t>(p.tokens.size());
  int32_t maxPos = s - 1;
  for (int32_t g = 0; g < p.gridT; ++g)
    for (int32_t r = 0; r < p.gridH; ++r)
      for (int32_t c = 0; c < p.gridW; ++c) {
        p.tokens.push_back(videoPadToken_);
        // second_per_grid_t (temporal patch 2 / processor fps 2.0 = 1.0) x tokens_per_second (2)
        p.posT.push_back(s + 2 * g);
        p.posH.push_back(s + r);
        p.posW.push_back(s + c);
        maxPos = std::max({maxPos, s + 2 * g, s + r, s + c});
      }
  p.videoEnd = static_cast<int32_t>(p.tokens.size());
  pos = maxPos + 1;
  appendText(after);
  p.nextPos = pos;
  return p;
}

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
  // The prompt is stored once; each sample adds its own generated tokens.
  const int64_t needed = static_cast<int64_t>(prep.tokens.size() + forced.size()) + int64_t{sp.samples} * sp.maxTokens;
  if (needed > static_cast<int64_t>(llama_n_ctx(ctx_)))
    throw Error("ERR_CONTEXT_FULL", "This video needs " + std::to_string(prep.tokens.size()) + " prompt tokens + " +
                                        (sp.samples > 1 ? std::to_string(sp.samples) + " samples x " : std::string()) +
                                        std::to_string(sp.maxTokens) + " to generate, more than the context of " +
                                        std::to_string(llama_n_ctx(ctx_)) +
                                        "; load the scorer with a larger contextSize, or lower fps/maxPixels/maxTokens" +
                                        (sp.samples > 1 ? "/samples" : ""));

  CallScope scope(*this, cancel, static_cast<int32_t>(needed), sp.samples);
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
  if (prep.videoEnd > static_cast<int64_t>(llama_n_ctx(ctx_)))
    throw Error("ERR_CONTEXT_FULL", "This video needs " + std::to_string(prep.videoEnd) + " tokens, more than the context of " +
                                        std::to_string(llama_n_ctx(ctx_)) + "; load the scorer with a larger contextSize, or lower fps/maxPixels");
  auto out = std::make_shared<EncodedVideo>();
  CallScope scope(*this, cancel, prep.videoEnd, 1);
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
