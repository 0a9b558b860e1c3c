// NativeModel: a loaded text model + mmproj (loadModel), prepare() and generate() off the JS thread.
#include <memory>
#include <mutex>

#include "binding/binding.h"
#include "model/engine.h"
#include "model/quantize.h"
#include "video/frame_feed.h"

namespace vs2 {
namespace {

Napi::Object ModelInfoToJs(Napi::Env env, const ModelInfo& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("architecture", m.architecture);
  o.Set("name", m.name);
  o.Set("nEmbd", m.nEmbd);
  o.Set("nLayer", m.nLayer);
  o.Set("nCtxTrain", m.nCtxTrain);
  o.Set("nVocab", m.nVocab);
  o.Set("nParams", static_cast<double>(m.nParams));
  o.Set("sizeBytes", static_cast<double>(m.sizeBytes));
  Napi::Array digits = Napi::Array::New(env, 5);
  for (uint32_t i = 0; i < 5; ++i) digits.Set(i, m.digitTokens[i]);
  o.Set("digitTokens", digits);
  o.Set("visionOnGpu", m.visionOnGpu);
  o.Set("threads", m.threads);
  return o;
}

Napi::Int32Array ToInt32Array(Napi::Env env, const std::vector<int32_t>& v) {
  auto a = Napi::Int32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeModel",
                       {InstanceAccessor<&NativeModel::Info>("info"),
                        InstanceMethod<&NativeModel::Prepare>("prepare"),
                        InstanceMethod<&NativeModel::Generate>("generate"),
                        InstanceMethod<&NativeModel::Dispose>("dispose")});
  }
  explicit NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {}
  void Attach(std::shared_ptr<Engine> e) { engine_ = std::move(e); }

 private:
  Engine& Get(Napi::Env env) {
    if (!engine_) ThrowError(env, "ERR_DISPOSED", "The scorer was disposed");
    return *engine_;
  }
  Napi::Value Info(const Napi::CallbackInfo& info) { return ModelInfoToJs(info.Env(), Get(info.Env()).info()); }
  Napi::Value Prepare(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  // Jobs in flight keep their own reference: the engine is freed when the last of them settles.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    engine_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<Engine> engine_;
};

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, EngineParams p) : PromiseWorker(env, "videoscore2.loadModel"), params_(std::move(p)) {}

 protected:
  void Run() override { engine_ = Engine::Load(params_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object obj = env.GetInstanceData<InstanceData>()->modelClass.New({});
    NativeModel::Unwrap(obj)->Attach(std::move(engine_));
    return obj;
  }

 private:
  EngineParams params_;
  std::shared_ptr<Engine> engine_;
};

// Token and progress events travel from the worker thread through one ordered queue; the worker's
// completion drains it before settling, so every event reaches JS before the promise does.
class EventSink : public std::enable_shared_from_this<EventSink> {
 public:
  struct Event {
    bool token;
    int32_t a = 0, b = 0, c = 0;  // token: index, id; progress: phase, done, total
    std::string bytes;
  };
  static constexpr int32_t kQuantizePhase = 3;
  EventSink(Napi::Env env, Napi::Function callback) {
    callback_ = Napi::Persistent(callback);
    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                          "videoscore2.events", 0, 1);
  }
  void Push(Event e) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.push_back(std::move(e));
    }
    // The call owns a reference, so the sink outlives every queued call even after the job is gone.
    auto* ref = new std::shared_ptr<EventSink>(shared_from_this());
    napi_status st = tsfn_.NonBlockingCall(ref, [](Napi::Env env, Napi::Function, std::shared_ptr<EventSink>* self) {
      if (env) (*self)->Drain(env);
      delete self;
    });
    if (st != napi_ok) delete ref;
  }
  void Drain(Napi::Env env) {
    std::vector<Event> events;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      events.swap(pending_);
    }
    if (callback_.IsEmpty()) return;
    for (auto& e : events) {
      Napi::HandleScope scope(env);
      Napi::Object o = Napi::Object::New(env);
      if (e.token) {
        o.Set("type", "token");
        o.Set("index", e.a);
        o.Set("id", e.b);
        o.Set("bytes", Napi::Buffer<char>::Copy(env, e.bytes.data(), e.bytes.size()));
      } else {
        static const char* kPhases[] = {"encode", "prefill", "generate", "quantize"};
        o.Set("type", "progress");
        o.Set("phase", kPhases[e.a]);
        o.Set("done", e.b);
        o.Set("total", e.c);
      }
      // A throwing JS callback must not take the job down: report it as an uncaught exception.
      try {
        callback_.Call({o});
      } catch (const Napi::Error& err) {
        napi_fatal_exception(env, err.Value());
      }
    }
  }
  // Called on the JS thread once, when the job settles. Events still queued are delivered first;
  // a late TSFN call finds this sink alive (it is owned by the worker, released after the TSFN).
  void Close(Napi::Env env) {
    Drain(env);
    callback_.Reset();
    tsfn_.Release();
  }

 private:
  Napi::FunctionReference callback_;
  Napi::ThreadSafeFunction tsfn_;
  std::mutex mutex_;
  std::vector<Event> pending_;
};

class GenerateWorker : public PromiseWorker {
 public:
  GenerateWorker(Napi::Env env, std::shared_ptr<Engine> engine) : PromiseWorker(env, "videoscore2.generate"), engine_(std::move(engine)) {}
  std::string before, after;
  std::vector<std::vector<uint8_t>> frames;
  std::shared_ptr<FrameFeed> feed;  // instead of `frames`: a decode still in progress
  int width = 0, height = 0;
  SamplingParams sampling;
  CancelFlag cancel;
  std::shared_ptr<EventSink> sink;

 protected:
  void Run() override {
    const CancelToken token = cancel.token();
    FrameSource source;
    source.width = width;
    source.height = height;
    if (feed) {
      source.count = static_cast<int>(feed->size());
      source.get = [this, &token](int k) { return feed->Wait(static_cast<size_t>(k), token); };
    } else {
      source.count = static_cast<int>(frames.size());
      source.get = [this](int k) -> const uint8_t* { return frames[static_cast<size_t>(k)].data(); };
    }
    ScoreCallbacks cb;
    if (sink) {
      auto s = sink;
      cb.onToken = [s](const GeneratedToken& t, const std::string& piece) {
        s->Push({true, -1, t.id, 0, piece});
      };
      cb.onProgress = [s](Phase p, int done, int total) { s->Push({false, static_cast<int32_t>(p), done, total, {}}); };
    }
    result_ = engine_->Generate(before, after, source, sampling, token, cb);
    frames.clear();
    feed.reset();
  }
  void Finish(Napi::Env env) override {
    if (sink) sink->Close(env);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("text", Napi::Buffer<char>::Copy(env, result_.text.data(), result_.text.size()));
    const size_t n = result_.tokens.size();
    auto ids = Napi::Int32Array::New(env, n);
    auto offsets = Napi::Uint32Array::New(env, n);
    Napi::Array digits = Napi::Array::New(env);
    uint32_t nd = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto& t = result_.tokens[i];
      ids[i] = t.id;
      offsets[i] = t.byteOffset;
      if (!t.digit) continue;
      Napi::Object d = Napi::Object::New(env);
      d.Set("tokenIndex", static_cast<double>(i));
      Napi::Array p = Napi::Array::New(env, 5), r = Napi::Array::New(env, 5);
      for (uint32_t k = 0; k < 5; ++k) {
        p.Set(k, t.probs[k]);
        r.Set(k, t.rawProbs[k]);
      }
      d.Set("probs", p);
      d.Set("rawProbs", r);
      digits.Set(nd++, d);
    }
    o.Set("tokenIds", ids);
    o.Set("tokenOffsets", offsets);
    o.Set("digits", digits);
    o.Set("stopReason", result_.stopReason);
    if (!result_.firstTopLogits.empty()) {
      Napi::Array top = Napi::Array::New(env, result_.firstTopLogits.size());
      for (uint32_t k = 0; k < result_.firstTopLogits.size(); ++k) {
        Napi::Object e = Napi::Object::New(env);
        e.Set("id", result_.firstTopLogits[k].first);
        e.Set("logit", result_.firstTopLogits[k].second);
        top.Set(k, e);
      }
      o.Set("firstTopLogits", top);
    }
    Napi::Object tm = Napi::Object::New(env);
    tm.Set("encodeMs", result_.timings.encodeMs);
    tm.Set("prefillMs", result_.timings.prefillMs);
    tm.Set("generateMs", result_.timings.generateMs);
    tm.Set("frameWaitMs", result_.timings.frameWaitMs);
    tm.Set("promptTokens", result_.timings.promptTokens);
    tm.Set("generatedTokens", result_.timings.generatedTokens);
    o.Set("timings", tm);
    return o;
  }

 private:
  std::shared_ptr<Engine> engine_;
  GenerateResult result_;
};

Napi::Value NativeModel::Prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine& e = Get(env);
  try {
    PreparedPrompt p = e.Prepare(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(),
                                 info[2].As<Napi::Number>().Int32Value(), info[3].As<Napi::Number>().Int32Value(),
                                 info[4].As<Napi::Number>().Int32Value());
    Napi::Object o = Napi::Object::New(env);
    o.Set("tokens", ToInt32Array(env, p.tokens));
    o.Set("posT", ToInt32Array(env, p.posT));
    o.Set("posH", ToInt32Array(env, p.posH));
    o.Set("posW", ToInt32Array(env, p.posW));
    o.Set("videoStart", p.videoStart);
    o.Set("videoEnd", p.videoEnd);
    o.Set("nextPos", p.nextPos);
    Napi::Array grid = Napi::Array::New(env, 3);
    grid.Set(0u, p.gridT);
    grid.Set(1u, p.gridH);
    grid.Set(2u, p.gridW);
    o.Set("grid", grid);
    return o;
  } catch (const Error& err) {
    ThrowError(env, err.code(), err.what());
  }
}

// generate(before, after, frames: Buffer[] | NativeFrameFeed, width, height, sampling, cancel, onEvent?)
Napi::Value NativeModel::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  auto* w = new GenerateWorker(env, engine_);
  std::unique_ptr<GenerateWorker> guard(w);
  w->before = info[0].As<Napi::String>().Utf8Value();
  w->after = info[1].As<Napi::String>().Utf8Value();
  w->width = info[3].As<Napi::Number>().Int32Value();
  w->height = info[4].As<Napi::Number>().Int32Value();
  w->feed = FeedFromJs(env, info[2]);
  if (!w->feed && !info[2].IsArray()) ThrowError(env, "ERR_INVALID_OPTION", "Expected frame buffers or an open frame feed");
  if (w->feed && (w->feed->width() != w->width || w->feed->height() != w->height))
    ThrowError(env, "ERR_INVALID_OPTION", "The frame feed's size differs from width x height");
  Napi::Array frames = w->feed ? Napi::Array::New(env) : info[2].As<Napi::Array>();
  const size_t frameBytes = static_cast<size_t>(w->width) * w->height * 3;
  for (uint32_t i = 0; i < frames.Length(); ++i) {
    auto buf = frames.Get(i).As<Napi::Uint8Array>();
    if (buf.ByteLength() != frameBytes)
      ThrowError(env, "ERR_INVALID_OPTION", "Frame " + std::to_string(i) + " has " + std::to_string(buf.ByteLength()) +
                                                " bytes, expected width*height*3 = " + std::to_string(frameBytes));
    w->frames.emplace_back(buf.Data(), buf.Data() + buf.ByteLength());
  }
  Napi::Object s = info[5].As<Napi::Object>();
  w->sampling.temperature = static_cast<float>(GetDouble(s, "temperature", 0.7));
  w->sampling.topK = GetInt(s, "topK", 50);
  w->sampling.topP = static_cast<float>(GetDouble(s, "topP", 1.0));
  w->sampling.seed = static_cast<uint32_t>(GetDouble(s, "seed", 0));
  w->sampling.maxTokens = GetInt(s, "maxTokens", 1024);
  w->sampling.grammar = GetString(s, "grammar");
  w->sampling.forcedText = GetString(s, "forcedText");
  w->sampling.closeAfterTokens = GetInt(s, "closeAfterTokens", 0);
  w->sampling.closeText = GetString(s, "closeText");
  w->sampling.topLogits = GetInt(s, "topLogits", 0);
  Napi::Value segs = s.Get("directSegments");
  if (segs.IsArray()) {
    Napi::Array a = segs.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) w->sampling.directSegments.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  w->cancel = CancelFlag(info[6]);
  if (info[7].IsFunction()) w->sink = std::make_shared<EventSink>(env, info[7].As<Napi::Function>());
  guard.release();
  w->Queue();
  return w->Promise();
}

class QuantizeWorker : public PromiseWorker {
 public:
  QuantizeWorker(Napi::Env env, std::string in, std::string out, std::string type, int threads)
      : PromiseWorker(env, "videoscore2.quantize"), in_(std::move(in)), out_(std::move(out)), type_(std::move(type)), threads_(threads) {}
  std::shared_ptr<EventSink> sink;

 protected:
  void Run() override {
    auto s = sink;
    Quantize(in_, out_, type_, threads_, [s](int done, int total) {
      if (s) s->Push({false, EventSink::kQuantizePhase, done, total, {}});
    });
  }
  void Finish(Napi::Env env) override {
    if (sink) sink->Close(env);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::string in_, out_, type_;
  int threads_;
};

// quantize(input, output, type, threads, onEvent?): Promise<void>
Napi::Value QuantizeFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsString() || !info[2].IsString())
    ThrowError(env, "ERR_INVALID_OPTION", "quantize(input: string, output: string, type: string, threads?: number)");
  auto* w = new QuantizeWorker(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(),
                               info[2].As<Napi::String>().Utf8Value(), info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : 0);
  if (info[4].IsFunction()) w->sink = std::make_shared<EventSink>(env, info[4].As<Napi::Function>());
  w->Queue();
  return w->Promise();
}

// loadModel({ model, mmproj, gpuLayers, threads, contextSize, batchSize, flashAttention, flashAttentionVision, useMmap })
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowError(env, "ERR_INVALID_OPTION", "Expected loadModel options");
  Napi::Object o = info[0].As<Napi::Object>();
  EngineParams p;
  p.modelPath = GetString(o, "model");
  p.mmprojPath = GetString(o, "mmproj");
  p.gpuLayers = GetInt(o, "gpuLayers", p.gpuLayers);
  p.threads = GetInt(o, "threads", p.threads);
  p.contextSize = GetInt(o, "contextSize", p.contextSize);
  p.batchSize = GetInt(o, "batchSize", p.batchSize);
  p.flashAttention = GetBool(o, "flashAttention", p.flashAttention);
  p.flashAttentionVision = GetBool(o, "flashAttentionVision", p.flashAttention);
  p.useMmap = GetBool(o, "useMmap", p.useMmap);
  auto* w = new LoadWorker(env, std::move(p));
  w->Queue();
  return w->Promise();
}

}  // namespace

Napi::Object InitScorer(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = NativeModel::Define(env);
  env.GetInstanceData<InstanceData>()->modelClass = Napi::Persistent(cls);
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("quantize", Napi::Function::New(env, QuantizeFn, "quantize"));
  return exports;
}

}  // namespace vs2
