// Module init: per-environment instance data (so the addon loads in worker_threads, several at once),
// versions(), setErrorClass(), and the video and model classes.
#include <chrono>
#include <thread>

#include "binding/instance_data.h"
#include "model/build_info.h"
#include "model/llama_log.h"
#include "video/video_source.h"

namespace vs2 {
namespace {

Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto av = GetLibavVersions();
  Napi::Object o = Napi::Object::New(env);
  o.Set("llamaCommit", LlamaCommit());
  o.Set("ggml", GgmlVersion());
  o.Set("libavformat", av.avformat);
  o.Set("libavcodec", av.avcodec);
  o.Set("libswscale", av.swscale);
  o.Set("libavutil", av.avutil);
  o.Set("cuda", CudaCompiled());
  o.Set("napiVersion", NAPI_VERSION);
  Napi::Array gpus = Napi::Array::New(env);
  for (const GpuDevice& d : GpuDevices()) {
    Napi::Object g = Napi::Object::New(env);
    g.Set("name", d.name);
    g.Set("description", d.description);
    g.Set("memoryTotal", static_cast<double>(d.memoryTotal));
    g.Set("memoryFree", static_cast<double>(d.memoryFree));
    gpus.Set(gpus.Length(), g);
  }
  o.Set("gpuDevices", gpus);
  return o;
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setErrorClass expects a class");
  info.Env().GetInstanceData<InstanceData>()->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

// On process.exit or worker.terminate, jobs on libuv's pool would otherwise keep using the model
// while the environment (and, at exit, static objects) go away: stop them and wait, boundedly.
void OnEnvCleanup(void* arg) {
  auto* data = static_cast<InstanceData*>(arg);
  __atomic_store_n(&data->exiting, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < 1000 && data->running.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new InstanceData();
  env.SetInstanceData(data);
  napi_add_env_cleanup_hook(env, OnEnvCleanup, data);
  InstallLogHandler();
  exports.Set("versions", Napi::Function::New(env, Versions, "versions"));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  InitVideo(env, exports);
  InitModel(env, exports);
  InitQuantize(env, exports);
  return exports;
}

}  // namespace vs2

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return vs2::Init(env, exports); }
NODE_API_MODULE(videoscore2, InitModule)
