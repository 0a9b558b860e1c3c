#include "binding/promise_worker.h"

#include "binding/instance_data.h"
#include "binding/js_error.h"
#include "common/error.h"

namespace vs2 {

PromiseWorker::PromiseWorker(Napi::Env env, const char* name)
    : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), data_(env.GetInstanceData<InstanceData>()) {}

void PromiseWorker::Execute() {
  // Counted so that the environment's cleanup hook can wait for jobs still running.
  struct Running {
    InstanceData* d;
    explicit Running(InstanceData* d) : d(d) { d->running++; }
    ~Running() { d->running--; }
  } running(data_);
  try {
    Run();
  } catch (const Error& e) {
    code_ = e.code();
    SetError(e.what());
  } catch (const std::bad_alloc&) {
    code_ = "ERR_INTERNAL";
    SetError("Out of memory");
  } catch (const std::exception& e) {
    code_ = "ERR_INTERNAL";
    SetError(e.what());
  }
}

void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Finish(env);
  try {
    deferred_.Resolve(Result(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
}

void PromiseWorker::OnError(const Napi::Error& e) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Finish(env);
  deferred_.Reject(MakeError(env, code_, e.Message()));
}

}  // namespace vs2
