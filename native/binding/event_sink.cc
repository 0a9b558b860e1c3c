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

void EventSink::Close(Napi::Env env) {
  Drain(env);
  callback_.Reset();
  tsfn_.Release();
}

}  // namespace vs2
