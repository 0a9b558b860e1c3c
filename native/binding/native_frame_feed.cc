#include "binding/native_frame_feed.h"

#include "binding/instance_data.h"
#include "video/frame_feed.h"

namespace vs2 {
namespace {

class NativeFrameFeed : public Napi::ObjectWrap<NativeFrameFeed> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeFrameFeed", {InstanceMethod<&NativeFrameFeed::Close>("close")});
  }
  explicit NativeFrameFeed(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeFrameFeed>(info) {}
  void Attach(std::shared_ptr<FrameFeed> f) { feed_ = std::move(f); }
  const std::shared_ptr<FrameFeed>& feed() const { return feed_; }

 private:
  // Lets the frames go as soon as the decode and the generate holding them are done, not at GC.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    feed_.reset();
    return info.Env().Undefined();
  }
  std::shared_ptr<FrameFeed> feed_;
};

}  // namespace

Napi::Function DefineFrameFeedClass(Napi::Env env) { return NativeFrameFeed::Define(env); }

Napi::Object WrapFrameFeed(Napi::Env env, std::shared_ptr<FrameFeed> feed) {
  Napi::Object obj = env.GetInstanceData<InstanceData>()->feedClass.New({});
  NativeFrameFeed::Unwrap(obj)->Attach(std::move(feed));
  return obj;
}

std::shared_ptr<FrameFeed> FeedFromJs(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.InstanceOf(env.GetInstanceData<InstanceData>()->feedClass.Value())) return nullptr;
  return NativeFrameFeed::Unwrap(o)->feed();
}

}  // namespace vs2
