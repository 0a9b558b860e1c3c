// Token and progress events from a job on libuv's pool to a JS callback, through one ordered queue
// and a thread-safe function. The job's completion drains the queue before it settles, so every
// event reaches JS before the promise does.
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vs2 {

class EventSink : public std::enable_shared_from_this<EventSink> {
 public:
  struct Event {
    bool token;
    int32_t a = 0, b = 0, c = 0;  // token: index, id, sample; progress: phase, done, total
    std::string bytes;
  };
  // Progress phases, as src/addon/interface.ts NativeEvent names them.
  static constexpr int32_t kEncode = 0, kPrefill = 1, kGenerate = 2, kQuantize = 3;

  EventSink(Napi::Env env, Napi::Function callback);
  // From any thread.
  void Push(Event e);
  // On the JS thread, once, when the job settles: events still queued are delivered first. A late
  // TSFN call finds this sink alive (the job owns it, and each queued call holds a reference).
  void Close(Napi::Env env);

 private:
  void Drain(Napi::Env env);
  void DeliverAll(Napi::Env env, std::vector<Event>& events);
  Napi::FunctionReference callback_;
  Napi::ThreadSafeFunction tsfn_;
  std::mutex mutex_;
  std::vector<Event> pending_;
};

}  // namespace vs2
