// An AsyncWorker that settles a promise: Run() is plain C++ on libuv's pool and may throw
// vs2::Error, whose code the promise's rejection carries.
#pragma once

#include <napi.h>

#include <string>

namespace vs2 {

struct InstanceData;

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* name);
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;
  // Runs on the JS thread before the promise settles, whatever the outcome.
  virtual void Finish(Napi::Env) {}

  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error& e) final;

 private:
  Napi::Promise::Deferred deferred_;
  InstanceData* data_;
  std::string code_ = "ERR_INTERNAL";
};

}  // namespace vs2
