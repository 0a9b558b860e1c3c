// What the addon keeps per Node environment (main thread, each worker thread): nothing here is
// shared across environments, so the addon loads in several worker_threads at once.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>

namespace vs2 {

struct InstanceData {
  // Raised by the environment's cleanup hook (process.exit, worker.terminate): running jobs see it
  // through their CancelToken and stop; the hook waits for them so that nothing outlives the env.
  int32_t exiting = 0;
  std::atomic<int> running{0};
  Napi::FunctionReference errorClass;  // src/addon/errors.ts VideoScoreError, handed over by setErrorClass()
  Napi::FunctionReference videoClass;
  Napi::FunctionReference feedClass;
  Napi::FunctionReference modelClass;
  Napi::FunctionReference encodedClass;
};

// Each file's Init* adds its functions and classes to the exports (called once per environment).
void InitVideo(Napi::Env env, Napi::Object exports);
void InitModel(Napi::Env env, Napi::Object exports);
void InitQuantize(Napi::Env env, Napi::Object exports);

}  // namespace vs2
