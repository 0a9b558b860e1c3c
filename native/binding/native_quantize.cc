// quantize(): llama.cpp's quantizer on a text model GGUF, off the JS thread, with per-tensor progress.
#include <memory>

#include "binding/event_sink.h"
#include "binding/instance_data.h"
#include "binding/promise_worker.h"
#include "binding/read_options.h"
#include "model/quantize.h"

namespace vs2 {
namespace {

class QuantizeWorker : public PromiseWorker {
 public:
  QuantizeWorker(Napi::Env env, std::string in, std::string out, std::string type, int threads)
      : PromiseWorker(env, "videoscore2.quantize"), in_(std::move(in)), out_(std::move(out)), type_(std::move(type)), threads_(threads) {}
  std::shared_ptr<EventSink> sink;

 protected:
  void Run() override {
    auto s = sink;
    Quantize(in_, out_, type_, threads_, [s](int done, int total) {
      if (s) s->Push({false, EventSink::kQuantize, done, total, {}});
    });
  }
  void Finish(Napi::Env env) override {
    if (sink) sink->Close(env);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::string in_, out_, type_;
  int threads_;
};

// quantize({ input, output, type, threads }, onEvent?): Promise<void>
Napi::Value QuantizeFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = ReadObject(info[0], "quantize() options");
  auto* w = new QuantizeWorker(env, ReadString(o, "input"), ReadString(o, "output"), ReadString(o, "type"), ReadInt(o, "threads"));
  if (info[1].IsFunction()) w->sink = std::make_shared<EventSink>(env, info[1].As<Napi::Function>());
  w->Queue();
  return w->Promise();
}

}  // namespace

void InitQuantize(Napi::Env env, Napi::Object exports) {
  exports.Set("quantize", Napi::Function::New(env, QuantizeFn, "quantize"));
}

}  // namespace vs2
