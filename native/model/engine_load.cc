// Engine::Load: the text model, its context and the vision projector, on the devices asked for.
#include "model/engine.h"

#include <cstdio>
#include <sstream>

#include <algorithm>
#include <mutex>
#include <thread>

#include "ggml-backend.h"
#include "llama.h"
#include "mtmd.h"
#include "model/llama_log.h"

namespace vs2 {
namespace {

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

// One CPU thread pool for the context's whole life. Without it ggml makes a pool per graph, a
// thread created and joined for every decode, and on 2 cores a batched step of 4 streams took
// 28 ms against 1.7 ms for a solo one: its barriers waited on threads the scheduler had not placed
// yet (docs/parallel.md). poll = 0: the pool's threads sleep between graphs instead of spinning,
// because video decoding and the vision encoder (its own pool) need those cores then; spinning
// made a 4-clip run 25% slower.
void AttachThreadpool(Engine& e, int threads) {
  ggml_backend_reg_t cpu = ggml_backend_reg_by_name("CPU");
  if (!cpu || threads <= 1) return;
  using New = ggml_threadpool* (*)(ggml_threadpool_params*);
  using Free = void (*)(ggml_threadpool*);
  auto make = reinterpret_cast<New>(ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_new"));
  auto free = reinterpret_cast<Free>(ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_free"));
  if (!make || !free) return;
  ggml_threadpool_params tp = ggml_threadpool_params_default(threads);
  tp.poll = 0;
  e.threadpool_ = make(&tp);
  if (!e.threadpool_) return;
  e.freeThreadpool_ = free;
  llama_attach_threadpool(e.ctx_, e.threadpool_, e.threadpool_);
}

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
  e->info_.maxTokenBytes = LongestTokenBytes(e->vocab_);

  const int threads = params.threads > 0 ? params.threads : std::max(1u, std::thread::hardware_concurrency());
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = params.contextSize;
  cp.n_batch = params.batchSize;
  cp.n_ubatch = params.batchSize;
  // parallel 1: one unified KV buffer, where the samples of a call share its prompt's cells, so
  // llama_memory_seq_cp only tags them and a sample costs its own tokens, never the prompt's again
  // (unified, llama.cpp accepts sequence ids up to LLAMA_MAX_SEQ whatever n_seq_max says).
  // parallel n > 1: one stream of n_ctx / (n x samplesPerCall) cells per sequence. A batched step then attends, for
  // each chain, over its own stream only, laid out from cell 0 as when it runs alone: results equal
  // solo runs, and a step costs its own cells, not every call's (docs/parallel.md).
  const int32_t calls = std::clamp(params.parallel, 1, kMaxSeqs);
  const int32_t streams = calls == 1 ? 1 : std::clamp(calls * std::max(params.samplesPerCall, 1), 1, kMaxSeqs);
  cp.n_seq_max = static_cast<uint32_t>(streams);
  cp.kv_unified = streams == 1;
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
  AttachThreadpool(*e, threads);
  e->info_.contextSize = static_cast<int32_t>(llama_n_ctx(e->ctx_));
  e->info_.parallel = calls;
  e->info_.streams = streams;
  e->info_.streamCells = static_cast<int32_t>(llama_n_ctx_seq(e->ctx_));
  // With streams, cells are no longer shared between calls: a call takes one stream per chain.
  e->slots_ = streams == 1 ? std::make_unique<CallSlots>(e->info_.contextSize, 1, kMaxSeqs)
                           : std::make_unique<CallSlots>(e->info_.contextSize, calls, streams);
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

}  // namespace vs2
