#include "binding/event_sink.h"

namespace vs2 {

EventSink::EventSink(Napi::Env env, Napi::Function callback) {
  callback_ = Napi::Persistent(callback);
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                        "videoscore2.events", 0, 1);
}

void EventSink::Push(Event e) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(std::move(e));
  }
  auto* ref = new std::shared_ptr<EventSink>(shared_from_this());
  napi_status st = tsfn_.NonBlockingCall(ref, [](Napi::Env env, Napi::Function, std::shared_ptr<EventSink>* self) {
    if (env) (*self)->Drain(env);
    delete self;
  });
  if (st != napi_ok) delete ref;
}

void EventSink::Drain(Napi::Env env) {
  std::vector<Event> events;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events.swap(pending_);
  }
  if (callback_.IsEmpty()) return;
  // A Node-API call fails without a pending exception only when the environment is going away (a
  // worker terminated mid-score): then there is nobody to deliver events to.
  try {
    DeliverAll(env, events);
  } catch (const Napi::Error&) {
  }
}

void EventSink::DeliverAll(Napi::Env env, std::vector<Event>& events) {
  for (auto& e : events) {
    Napi::HandleScope scope(env);
    Napi::Object o = Napi::Object::New(env);
    if (e.token) {
      o.Set("type", "token");
      o.Set("index", e.a);
      o.Set("id", e.b);
      o.Set("sample", e.c);
      o.Set("bytes", Napi::Buffer<char>::Copy(env, e.bytes.data(), e.bytes.size()));
    } else {
      static const char* kPhases[] = {"encode", "prefill", "generate", "quantize"};
      o.Set("type", "progress");
      o.Set("phase", kPhases[e.a]);
      o.Set("done", e.b);
      o.Set("total", e.c);
    }
    // A throwing JS callback must not take the job down: report it as an uncaught exception.
    napi_value arg = o, result;
    napi_status st = napi_call_function(env, env.Undefined(), callback_.Value(), 1, &arg, &result);
    if (st == napi_pending_exception) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    } else if (st != napi_ok) {
      return;  // cannot run JS any more
    }
  }
}

void EventSink::Close(Napi::Env env) {
  Drain(env);
  callback_.Reset();
  tsfn_.Release();
}

}  // namespace vs2
