// NativeModel: a loaded text model + mmproj (loadModel), prepare(), generate() and encode() off the JS thread.
#include <memory>

#include "binding/cancel_flag.h"
#include "binding/event_sink.h"
#include "binding/instance_data.h"
#include "binding/js_error.h"
#include "binding/model_values.h"
#include "binding/native_frame_feed.h"
#include "binding/promise_worker.h"
#include "binding/read_options.h"
#include "model/engine.h"
#include "video/frame_feed.h"

namespace vs2 {
namespace {

// The frames of a generate or encode call: a decode in progress (a NativeFrameFeed), or frames in memory.
struct FrameInput {
  std::vector<std::vector<uint8_t>> frames;
  std::shared_ptr<FrameFeed> feed;
  int width = 0, height = 0;

  FrameSource Source(const CancelToken& token) {
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
    return source;
  }
  void Release() {
    frames.clear();
    feed.reset();
  }
};

void ReadFrameInput(Napi::Env env, const Napi::Value& video, FrameInput& in) {
  in.feed = FeedFromJs(env, video);
  if (in.feed) {
    in.width = in.feed->width();
    in.height = in.feed->height();
    return;
  }
  Napi::Object v = ReadObject(video, "options.video (a frame feed, an encoded video, or { frames, width, height })");
  in.width = ReadInt(v, "width");
  in.height = ReadInt(v, "height");
  Napi::Value list = v.Get("frames");
  if (!list.IsArray()) ThrowError(env, "ERR_INVALID_OPTION", "Expected video.frames to be an array of RGB24 buffers");
  Napi::Array frames = list.As<Napi::Array>();
  const size_t frameBytes = static_cast<size_t>(in.width) * in.height * 3;
  for (uint32_t i = 0; i < frames.Length(); ++i) {
    Napi::Value f = frames.Get(i);
    if (!f.IsTypedArray() || f.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      ThrowError(env, "ERR_INVALID_OPTION", "Frame " + std::to_string(i) + " is not a Uint8Array");
    auto buf = f.As<Napi::Uint8Array>();
    if (buf.ByteLength() != frameBytes)
      ThrowError(env, "ERR_INVALID_OPTION", "Frame " + std::to_string(i) + " has " + std::to_string(buf.ByteLength()) +
                                                " bytes, expected width*height*3 = " + std::to_string(frameBytes));
    in.frames.emplace_back(buf.Data(), buf.Data() + buf.ByteLength());
  }
}

// NativeEncoded: the JS handle of an Engine::Encode result (the prefix's KV cells, held in native memory).
class NativeEncoded : public Napi::ObjectWrap<NativeEncoded> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeEncoded",
                       {InstanceAccessor<&NativeEncoded::Bytes>("bytes"), InstanceAccessor<&NativeEncoded::Tokens>("tokens"),
                        InstanceMethod<&NativeEncoded::Dispose>("dispose")});
  }
  explicit NativeEncoded(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEncoded>(info) {}
  void Attach(std::shared_ptr<const EncodedVideo> e) { encoded_ = std::move(e); }
  const std::shared_ptr<const EncodedVideo>& encoded() const { return encoded_; }

 private:
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), encoded_ ? static_cast<double>(encoded_->state.size()) : 0);
  }
  Napi::Value Tokens(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), encoded_ ? encoded_->tokens : 0); }
  // A generate in flight keeps its own reference: the memory goes when the last holder lets go.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    encoded_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<const EncodedVideo> encoded_;
};

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeModel",
                       {InstanceAccessor<&NativeModel::Info>("info"),
                        InstanceMethod<&NativeModel::Prepare>("prepare"),
                        InstanceMethod<&NativeModel::Generate>("generate"),
                        InstanceMethod<&NativeModel::Encode>("encode"),
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
  Napi::Value Encode(const Napi::CallbackInfo& info);
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

class GenerateWorker : public PromiseWorker {
 public:
  GenerateWorker(Napi::Env env, std::shared_ptr<Engine> engine) : PromiseWorker(env, "videoscore2.generate"), engine_(std::move(engine)) {}
  ChatText text;
  FrameInput input;
  std::shared_ptr<const EncodedVideo> encoded;  // instead of `input`: the prefix, already computed
  SamplingParams sampling;
  CancelFlag cancel;
  std::shared_ptr<EventSink> sink;

 protected:
  void Run() override {
    const CancelToken token = cancel.token();
    const ScoreCallbacks cb = CallbacksFor(sink, true);
    result_ = encoded ? engine_->Generate(text, *encoded, sampling, token, cb)
                      : engine_->Generate(text, input.Source(token), sampling, token, cb);
    input.Release();
    encoded.reset();
  }
  void Finish(Napi::Env env) override {
    if (sink) sink->Close(env);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = SampleToJs(env, result_.samples.at(0));
    Napi::Array others = Napi::Array::New(env, result_.samples.size() - 1);
    for (size_t i = 1; i < result_.samples.size(); ++i) others.Set(static_cast<uint32_t>(i - 1), SampleToJs(env, result_.samples[i]));
    o.Set("otherSamples", others);
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
    o.Set("timings", TimingsToJs(env, result_.timings));
    return o;
  }

 private:
  std::shared_ptr<Engine> engine_;
  GenerateResult result_;
};

class PrepareWorker : public PromiseWorker {
 public:
  PrepareWorker(Napi::Env env, std::shared_ptr<Engine> engine) : PromiseWorker(env, "videoscore2.prepare"), engine_(std::move(engine)) {}
  ChatText text;
  int nframes = 0, width = 0, height = 0;

 protected:
  void Run() override { prepared_ = engine_->Prepare(text, nframes, width, height); }
  Napi::Value Result(Napi::Env env) override { return PreparedToJs(env, prepared_); }

 private:
  std::shared_ptr<Engine> engine_;
  PreparedPrompt prepared_;
};

// Tokenizing takes about 0.4 s per MB: text up to this size costs the JS thread well under 10 ms,
// and skips a turn on libuv's pool, whose threads may all be busy generating.
constexpr size_t kInlinePrepareBytes = 16 * 1024;

// prepare({ beforeVideo, afterVideo, userText, afterText, nframes, width, height }) → a promise of
// the token layout, no encode or decode
Napi::Value NativeModel::Prepare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine& e = Get(env);
  Napi::Object in = ReadObject(info[0], "prepare() options");
  ChatText text = ReadChatText(in);
  const int nframes = ReadInt(in, "nframes"), width = ReadInt(in, "width"), height = ReadInt(in, "height");
  if (text.beforeVideo.size() + text.afterVideo.size() + text.userText.size() + text.afterText.size() > kInlinePrepareBytes) {
    auto* w = new PrepareWorker(env, engine_);
    w->text = std::move(text);
    w->nframes = nframes;
    w->width = width;
    w->height = height;
    w->Queue();
    return w->Promise();
  }
  auto deferred = Napi::Promise::Deferred::New(env);
  try {
    deferred.Resolve(PreparedToJs(env, e.Prepare(text, nframes, width, height)));
  } catch (const Error& err) {
    deferred.Reject(MakeError(env, err.code(), err.what()));
  }
  return deferred.Promise();
}

// generate({ beforeVideo, afterVideo, userText, afterText, video, sampling }, cancel, onEvent?): `video` is a NativeFrameFeed
// (a decode in progress, which knows its size) or { frames: Uint8Array[], width, height }.
Napi::Value NativeModel::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  Napi::Object o = ReadObject(info[0], "generate() options");
  auto* w = new GenerateWorker(env, engine_);
  std::unique_ptr<GenerateWorker> guard(w);
  w->text = ReadChatText(o);
  Napi::Value video = o.Get("video");
  if (video.IsObject() && video.As<Napi::Object>().InstanceOf(env.GetInstanceData<InstanceData>()->encodedClass.Value())) {
    w->encoded = NativeEncoded::Unwrap(video.As<Napi::Object>())->encoded();
    if (!w->encoded) ThrowError(env, "ERR_DISPOSED", "The encoded video was disposed");
  } else {
    ReadFrameInput(env, video, w->input);
  }
  Napi::Object s = ReadObject(o.Get("sampling"), "generate() options.sampling");
  SamplingParams& sp = w->sampling;
  sp.temperature = static_cast<float>(ReadDouble(s, "temperature"));
  sp.topK = ReadInt(s, "topK");
  sp.topP = static_cast<float>(ReadDouble(s, "topP"));
  sp.seed = static_cast<uint32_t>(ReadDouble(s, "seed"));
  sp.maxTokens = ReadInt(s, "maxTokens");
  sp.grammar = ReadString(s, "grammar");
  sp.forcedText = ReadString(s, "forcedText");
  sp.closeAfterTokens = ReadInt(s, "closeAfterTokens");
  sp.openText = ReadString(s, "openText");
  sp.closeText = ReadString(s, "closeText");
  sp.answerSegments = ReadStrings(s, "answerSegments");
  sp.samples = ReadInt(s, "samples");
  sp.topLogits = ReadInt(s, "topLogits");
  sp.directSegments = ReadStrings(s, "directSegments");
  w->cancel = CancelFlag(info[1]);
  if (info[2].IsFunction()) w->sink = std::make_shared<EventSink>(env, info[2].As<Napi::Function>());
  guard.release();
  w->Queue();
  return w->Promise();
}

class EncodeWorker : public PromiseWorker {
 public:
  EncodeWorker(Napi::Env env, std::shared_ptr<Engine> engine) : PromiseWorker(env, "videoscore2.encode"), engine_(std::move(engine)) {}
  std::string beforeVideo;
  FrameInput input;
  CancelFlag cancel;
  std::shared_ptr<EventSink> sink;

 protected:
  void Run() override {
    const CancelToken token = cancel.token();
    const ScoreCallbacks cb = CallbacksFor(sink, false);
    result_ = engine_->Encode(beforeVideo, input.Source(token), token, cb);
    input.Release();
  }
  void Finish(Napi::Env env) override {
    if (sink) sink->Close(env);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object obj = env.GetInstanceData<InstanceData>()->encodedClass.New({});
    NativeEncoded::Unwrap(obj)->Attach(result_);
    obj.Set("timings", TimingsToJs(env, result_->timings));
    return obj;
  }

 private:
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<const EncodedVideo> result_;
};

// encode({ beforeVideo, video }, cancel, onEvent?) → NativeEncoded: the chat before the video and the
// video, encoded and prefilled, for generate() calls with any text after it.
Napi::Value NativeModel::Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  Napi::Object o = ReadObject(info[0], "encode() options");
  auto* w = new EncodeWorker(env, engine_);
  std::unique_ptr<EncodeWorker> guard(w);
  w->beforeVideo = ReadString(o, "beforeVideo");
  ReadFrameInput(env, o.Get("video"), w->input);
  w->cancel = CancelFlag(info[1]);
  if (info[2].IsFunction()) w->sink = std::make_shared<EventSink>(env, info[2].As<Napi::Function>());
  guard.release();
  w->Queue();
  return w->Promise();
}

// loadModel({ model, mmproj, gpuLayers, device, threads, contextSize, batchSize, flashAttention, flashAttentionVision, parallel, samplesPerCall })
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = ReadObject(info[0], "loadModel() options");
  EngineParams p;
  p.modelPath = ReadString(o, "model");
  p.mmprojPath = ReadString(o, "mmproj");
  p.gpuLayers = ReadInt(o, "gpuLayers");
  p.threads = ReadInt(o, "threads");
  p.contextSize = ReadInt(o, "contextSize");
  p.batchSize = ReadInt(o, "batchSize");
  p.flashAttention = ReadBool(o, "flashAttention");
  p.flashAttentionVision = ReadBool(o, "flashAttentionVision");
  p.parallel = ReadInt(o, "parallel");
  p.samplesPerCall = ReadInt(o, "samplesPerCall");
  p.device = ReadString(o, "device");
  auto* w = new LoadWorker(env, std::move(p));
  w->Queue();
  return w->Promise();
}

}  // namespace

void InitModel(Napi::Env env, Napi::Object exports) {
  env.GetInstanceData<InstanceData>()->modelClass = Napi::Persistent(NativeModel::Define(env));
  env.GetInstanceData<InstanceData>()->encodedClass = Napi::Persistent(NativeEncoded::Define(env));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
}

}  // namespace vs2
