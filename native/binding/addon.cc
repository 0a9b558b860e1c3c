// Module init: per-environment instance data (so the addon loads in worker_threads, several at once),
// versions(), setErrorClass(), and the video and model classes.
#include <chrono>
#include <thread>

#include "binding/instance_data.h"
#include "binding/js_error.h"
#include "binding/read_options.h"
#include "model/backend_modules.h"
#include "model/build_info.h"
#include "model/vulkan_devices.h"
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
  o.Set("modular", ModularBackends());
  Napi::Array gpus = Napi::Array::New(env);
  for (const GpuDevice& d : GpuDevices()) {
    Napi::Object g = Napi::Object::New(env);
    g.Set("name", d.name);
    g.Set("backend", d.backend);
    g.Set("description", d.description);
    g.Set("type", d.type);
    g.Set("driver", d.driver);
    g.Set("index", d.index);
    g.Set("memoryTotal", static_cast<double>(d.memoryTotal));
    g.Set("memoryFree", static_cast<double>(d.memoryFree));
    gpus.Set(gpus.Length(), g);
  }
  o.Set("gpuDevices", gpus);
  const VulkanScan& vk = ScanVulkan();
  Napi::Object v = Napi::Object::New(env);
  v.Set("loaderFound", vk.loaderFound);
  v.Set("problem", vk.problem);
  o.Set("vulkan", v);
  return o;
}

// loadBackends({ dir, gpuModules }): the CPU backend of the best x86 level in `dir`, then each GPU
// module; once per process (later calls report what the first loaded). Synchronous: it runs once,
// before any model, and takes milliseconds (a GPU driver's initialisation at most).
Napi::Value LoadBackends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = ReadObject(info[0], "loadBackends() options");
  const std::string dir = ReadString(o, "dir");
  const std::vector<std::string> modules = ReadStrings(o, "gpuModules");
  Napi::Object r = Napi::Object::New(env);
  try {
    const CpuBackend& cpu = LoadCpuBackend(dir);
    r.Set("cpuVariant", cpu.variant);
    r.Set("cpuPath", cpu.path);
    Napi::Array scores = Napi::Array::New(env, cpu.scores.size());
    for (uint32_t i = 0; i < cpu.scores.size(); ++i) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("variant", cpu.scores[i].first);
      e.Set("score", cpu.scores[i].second);
      scores.Set(i, e);
    }
    r.Set("cpuScores", scores);
  } catch (const Error& e) {
    ThrowError(env, e.code(), e.what());
  }
  Napi::Array loaded = Napi::Array::New(env, modules.size());
  for (uint32_t i = 0; i < modules.size(); ++i) {
    Napi::Object m = Napi::Object::New(env);
    m.Set("path", modules[i]);
    m.Set("error", LoadGpuModule(modules[i]));
    loaded.Set(i, m);
  }
  r.Set("gpuModules", loaded);
  return r;
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
  exports.Set("loadBackends", Napi::Function::New(env, LoadBackends, "loadBackends"));
  InitVideo(env, exports);
  InitModel(env, exports);
  InitQuantize(env, exports);
  return exports;
}

}  // namespace vs2

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return vs2::Init(env, exports); }
NODE_API_MODULE(videoscore2, InitModule)
