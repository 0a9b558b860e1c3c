// JS values of the model's inputs and results (see model_values.cc).
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "binding/event_sink.h"
#include "model/engine.h"

namespace vs2 {

// The engine's callbacks, forwarding to the JS sink (none without one); `tokens`: tokens too, not only progress.
ScoreCallbacks CallbacksFor(const std::shared_ptr<EventSink>& sink, bool tokens);
ChatText ReadChatText(const Napi::Object& o);
Napi::Object ModelInfoToJs(Napi::Env env, const ModelInfo& m);
Napi::Int32Array ToInt32Array(Napi::Env env, const std::vector<int32_t>& v);
Napi::Object SampleToJs(Napi::Env env, const SampleResult& r);
Napi::Object TimingsToJs(Napi::Env env, const Timings& t);
Napi::Object PreparedToJs(Napi::Env env, const PreparedPrompt& p);

}  // namespace vs2
