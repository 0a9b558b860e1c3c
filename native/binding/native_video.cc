// NativeVideo: an opened, indexed video (openVideo) that decodes frame lists off the JS thread.
#include <atomic>
#include <memory>

#include "binding/cancel_flag.h"
#include "binding/instance_data.h"
#include "binding/js_error.h"
#include "binding/native_frame_feed.h"
#include "binding/promise_worker.h"
#include "binding/read_options.h"
#include "video/frame_feed.h"
#include "video/video_source.h"

namespace vs2 {
namespace {

Napi::Object StatsToJs(Napi::Env env, const DecodeStats& st);

// What a job holds: the source stays alive while any job uses it, even after close().
struct VideoState {
  std::vector<uint8_t> bytes;  // in-memory input, copied so JS can reuse or detach its buffer
  std::unique_ptr<VideoSource> source;
  std::atomic<bool> busy{false};
};

Napi::Object InfoToJs(Napi::Env env, const VideoInfo& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("totalFrames", static_cast<double>(i.totalFrames));
  o.Set("fps", i.fps);
  o.Set("width", i.width);
  o.Set("height", i.height);
  o.Set("durationSeconds", i.durationSeconds);
  o.Set("codec", i.codec);
  o.Set("container", i.container);
  return o;
}

class NativeVideo : public Napi::ObjectWrap<NativeVideo> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeVideo",
                       {InstanceAccessor<&NativeVideo::Info>("info"),
                        InstanceMethod<&NativeVideo::Decode>("decode"),
                        InstanceMethod<&NativeVideo::DecodeAll>("decodeAll"),
                        InstanceMethod<&NativeVideo::Stream>("stream"),
                        InstanceMethod<&NativeVideo::Close>("close")});
  }
  explicit NativeVideo(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeVideo>(info) {}
  void Attach(std::shared_ptr<VideoState> s) { state_ = std::move(s); }

 private:
  std::shared_ptr<VideoState> Acquire(Napi::Env env) {
    if (!state_) ThrowError(env, "ERR_DISPOSED", "This video was closed");
    bool expected = false;
    if (!state_->busy.compare_exchange_strong(expected, true))
      ThrowError(env, "ERR_INVALID_OPTION", "This video is already decoding; await the previous call first");
    return state_;
  }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    if (!state_) ThrowError(info.Env(), "ERR_DISPOSED", "This video was closed");
    return InfoToJs(info.Env(), state_->source->info());
  }
  Napi::Value Decode(const Napi::CallbackInfo& info);
  Napi::Value DecodeAll(const Napi::CallbackInfo& info);
  Napi::Value Stream(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info) {
    state_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<VideoState> state_;
};

class OpenWorker : public PromiseWorker {
 public:
  OpenWorker(Napi::Env env, bool memory, std::string path, std::vector<uint8_t> bytes, VideoLimits limits,
             CancelFlag cancel)
      : PromiseWorker(env, "videoscore2.openVideo"),
        memory_(memory),
        path_(std::move(path)),
        limits_(limits),
        cancel_(std::move(cancel)),
        state_(std::make_shared<VideoState>()) {
    state_->bytes = std::move(bytes);
  }

 protected:
  void Run() override {
    state_->source = memory_
                         ? VideoSource::OpenMemory(state_->bytes.data(), state_->bytes.size(), limits_, cancel_.token())
                         : VideoSource::OpenFile(path_, limits_, cancel_.token());
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object obj = env.GetInstanceData<InstanceData>()->videoClass.New({});
    NativeVideo::Unwrap(obj)->Attach(state_);
    return obj;
  }

 private:
  bool memory_;
  std::string path_;
  VideoLimits limits_;
  CancelFlag cancel_;
  std::shared_ptr<VideoState> state_;
};

class DecodeWorker : public PromiseWorker {
 public:
  DecodeWorker(Napi::Env env, std::shared_ptr<VideoState> state, std::vector<int64_t> indices, int w, int h,
               CancelFlag cancel)
      : PromiseWorker(env, "videoscore2.decode"),
        state_(std::move(state)),
        indices_(std::move(indices)),
        w_(w),
        h_(h),
        cancel_(std::move(cancel)) {}

 protected:
  void Run() override { frames_ = state_->source->Decode(indices_, w_, h_, cancel_.token(), &stats_); }
  void Finish(Napi::Env) override { state_->busy = false; }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, frames_.size());
    for (size_t i = 0; i < frames_.size(); ++i) {
      Napi::Object f = Napi::Object::New(env);
      f.Set("index", static_cast<double>(frames_[i].index));
      f.Set("timeSeconds", frames_[i].timeSeconds);
      // Copied into a JS-owned buffer: Electron's memory cage forbids external buffers.
      f.Set("rgb", Napi::Buffer<uint8_t>::Copy(env, frames_[i].rgb.data(), frames_[i].rgb.size()));
      std::vector<uint8_t>().swap(frames_[i].rgb);
      arr.Set(static_cast<uint32_t>(i), f);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("frames", arr);
    out.Set("stats", StatsToJs(env, stats_));
    return out;
  }

 private:
  std::shared_ptr<VideoState> state_;
  std::vector<int64_t> indices_;
  int w_, h_;
  CancelFlag cancel_;
  std::vector<DecodedFrame> frames_;
  DecodeStats stats_;
};

class DecodeAllWorker : public PromiseWorker {
 public:
  DecodeAllWorker(Napi::Env env, std::shared_ptr<VideoState> state, CancelFlag cancel)
      : PromiseWorker(env, "videoscore2.decodeAll"), state_(std::move(state)), cancel_(std::move(cancel)) {}

 protected:
  void Run() override { n_ = state_->source->DecodeAll(cancel_.token()); }
  void Finish(Napi::Env) override { state_->busy = false; }
  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(n_)); }

 private:
  std::shared_ptr<VideoState> state_;
  CancelFlag cancel_;
  int64_t n_ = 0;
};

Napi::Object StatsToJs(Napi::Env env, const DecodeStats& st) {
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("packetsRead", static_cast<double>(st.packetsRead));
  stats.Set("framesDecoded", static_cast<double>(st.framesDecoded));
  stats.Set("packetsNotTargeted", static_cast<double>(st.framesSkipped));
  stats.Set("seeks", static_cast<double>(st.seeks));
  stats.Set("decoders", static_cast<double>(st.decoders));
  return stats;
}

class StreamWorker : public PromiseWorker {
 public:
  StreamWorker(Napi::Env env, std::shared_ptr<VideoState> state, std::shared_ptr<FrameFeed> feed, CancelFlag cancel)
      : PromiseWorker(env, "videoscore2.stream"), state_(std::move(state)), feed_(std::move(feed)), cancel_(std::move(cancel)) {}

 protected:
  void Run() override {
    FrameFeed* feed = feed_.get();
    try {
      state_->source->DecodeInto(feed->targets(), feed->width(), feed->height(), feed->slots(), cancel_.token(), &stats_,
                                 [feed](size_t i) { feed->MarkReady(i); });
    } catch (...) {
      feed->Close(std::current_exception());
      throw;
    }
    feed->Close(nullptr);
  }
  void Finish(Napi::Env) override { state_->busy = false; }
  Napi::Value Result(Napi::Env env) override { return StatsToJs(env, stats_); }

 private:
  std::shared_ptr<VideoState> state_;
  std::shared_ptr<FrameFeed> feed_;
  CancelFlag cancel_;
  DecodeStats stats_;
};

// stream({ indices, width, height }, cancel?) → a NativeFrameFeed with `done`: Promise<stats>. The
// decode is queued before any generate that consumes it, and libuv's pool runs jobs in order, so a
// generate waiting on the feed never holds the thread its decode needs.
Napi::Value NativeVideo::Stream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = ReadObject(info[0], "stream() options");
  std::vector<int64_t> indices = ReadIndices(o, "indices");
  const int width = ReadInt(o, "width"), height = ReadInt(o, "height");
  auto state = Acquire(env);
  auto feed = std::make_shared<FrameFeed>(indices, width, height);
  Napi::Object obj = WrapFrameFeed(env, feed);
  auto* w = new StreamWorker(env, state, feed, CancelFlag(info[1]));
  obj.Set("done", w->Promise());
  obj.Set("count", static_cast<double>(feed->size()));
  w->Queue();
  return obj;
}

// decode({ indices, width, height }, cancel?) → { frames, stats }
Napi::Value NativeVideo::Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = ReadObject(info[0], "decode() options");
  std::vector<int64_t> indices = ReadIndices(o, "indices");
  const int width = ReadInt(o, "width"), height = ReadInt(o, "height");
  auto state = Acquire(env);
  auto* w = new DecodeWorker(env, state, std::move(indices), width, height, CancelFlag(info[1]));
  w->Queue();
  return w->Promise();
}

Napi::Value NativeVideo::DecodeAll(const Napi::CallbackInfo& info) {
  auto state = Acquire(info.Env());
  auto* w = new DecodeAllWorker(info.Env(), state, CancelFlag(info[0]));
  w->Queue();
  return w->Promise();
}

// openVideo({ input, maxPixelsPerFrame, maxFrames, deadlineSeconds, threads }, cancel?): Promise<NativeVideo>
Napi::Value OpenVideo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = ReadObject(info[0], "openVideo() options");
  std::string path;
  std::vector<uint8_t> bytes;
  Napi::Value input = o.Get("input");
  if (input.IsString()) {
    path = input.As<Napi::String>().Utf8Value();
  } else if (input.IsTypedArray() && input.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto ta = input.As<Napi::Uint8Array>();
    bytes.assign(ta.Data(), ta.Data() + ta.ByteLength());
  } else {
    ThrowError(env, "ERR_INVALID_OPTION", "Expected the video to be a path or a Buffer");
  }
  VideoLimits limits;
  limits.maxPixelsPerFrame = ReadInt64(o, "maxPixelsPerFrame");
  limits.maxFrames = ReadInt64(o, "maxFrames");
  limits.deadlineSeconds = ReadDouble(o, "deadlineSeconds");
  limits.threads = ReadInt(o, "threads");
  auto* w = new OpenWorker(env, !input.IsString(), std::move(path), std::move(bytes), limits, CancelFlag(info[1]));
  w->Queue();
  return w->Promise();
}

}  // namespace

void InitVideo(Napi::Env env, Napi::Object exports) {
  auto* data = env.GetInstanceData<InstanceData>();
  data->videoClass = Napi::Persistent(NativeVideo::Define(env));
  data->feedClass = Napi::Persistent(DefineFrameFeedClass(env));
  exports.Set("openVideo", Napi::Function::New(env, OpenVideo, "openVideo"));
}

}  // namespace vs2
