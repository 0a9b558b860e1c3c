// JS values of the model's inputs and results (src/addon/interface.ts): the chat text read from JS,
// model info, samples, timings and prepared prompts written to JS, and the engine callbacks that
// forward to a JS event sink.
#include "binding/model_values.h"

#include <algorithm>

#include "binding/read_options.h"

namespace vs2 {

ScoreCallbacks CallbacksFor(const std::shared_ptr<EventSink>& sink, bool tokens) {
  ScoreCallbacks cb;
  if (!sink) return cb;
  if (tokens)
    cb.onToken = [sink](int sample, const GeneratedToken& t, const std::string& piece) { sink->Push({true, -1, t.id, sample, piece}); };
  cb.onProgress = [sink](Phase p, int done, int total) { sink->Push({false, static_cast<int32_t>(p), done, total, {}}); };
  return cb;
}

ChatText ReadChatText(const Napi::Object& o) {
  return {ReadString(o, "beforeVideo"), ReadString(o, "afterVideo"), ReadString(o, "userText"), ReadString(o, "afterText")};
}

Napi::Object ModelInfoToJs(Napi::Env env, const ModelInfo& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("architecture", m.architecture);
  o.Set("name", m.name);
  o.Set("nEmbd", m.nEmbd);
  o.Set("nLayer", m.nLayer);
  o.Set("nCtxTrain", m.nCtxTrain);
  o.Set("contextSize", m.contextSize);
  o.Set("nVocab", m.nVocab);
  o.Set("nParams", static_cast<double>(m.nParams));
  o.Set("sizeBytes", static_cast<double>(m.sizeBytes));
  Napi::Array digits = Napi::Array::New(env, 5);
  for (uint32_t i = 0; i < 5; ++i) digits.Set(i, m.digitTokens[i]);
  o.Set("digitTokens", digits);
  o.Set("visionOnGpu", m.visionOnGpu);
  o.Set("threads", m.threads);
  o.Set("parallel", m.parallel);
  o.Set("maxTokenBytes", m.maxTokenBytes);
  o.Set("streams", m.streams);
  o.Set("streamCells", m.streamCells);
  o.Set("device", m.device);
  o.Set("visionDevice", m.visionDevice);
  o.Set("offloadedLayers", m.offloadedLayers);
  Napi::Array buffers = Napi::Array::New(env, m.buffers.size());
  for (uint32_t i = 0; i < m.buffers.size(); ++i) {
    Napi::Object b = Napi::Object::New(env);
    b.Set("device", m.buffers[i].device);
    b.Set("kind", m.buffers[i].kind);
    b.Set("mib", m.buffers[i].mib);
    buffers.Set(i, b);
  }
  o.Set("buffers", buffers);
  return o;
}

Napi::Int32Array ToInt32Array(Napi::Env env, const std::vector<int32_t>& v) {
  auto a = Napi::Int32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

// { text, tokenIds, tokenOffsets, digits, stopReason } of one sample (src/addon/interface.ts NativeSample).
Napi::Object SampleToJs(Napi::Env env, const SampleResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("text", Napi::Buffer<char>::Copy(env, r.text.data(), r.text.size()));
  const size_t n = r.tokens.size();
  auto ids = Napi::Int32Array::New(env, n);
  auto offsets = Napi::Uint32Array::New(env, n);
  Napi::Array digits = Napi::Array::New(env);
  uint32_t nd = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto& t = r.tokens[i];
    ids[i] = t.id;
    offsets[i] = t.byteOffset;
    if (!t.digit) continue;
    Napi::Object d = Napi::Object::New(env);
    d.Set("tokenIndex", static_cast<double>(i));
    Napi::Array p = Napi::Array::New(env, 5), raw = Napi::Array::New(env, 5);
    for (uint32_t k = 0; k < 5; ++k) {
      p.Set(k, t.probs[k]);
      raw.Set(k, t.rawProbs[k]);
    }
    d.Set("probs", p);
    d.Set("rawProbs", raw);
    digits.Set(nd++, d);
  }
  o.Set("tokenIds", ids);
  o.Set("tokenOffsets", offsets);
  o.Set("digits", digits);
  o.Set("stopReason", r.stopReason);
  return o;
}

Napi::Object TimingsToJs(Napi::Env env, const Timings& t) {
  Napi::Object tm = Napi::Object::New(env);
  tm.Set("encodeMs", t.encodeMs);
  tm.Set("prefillMs", t.prefillMs);
  tm.Set("generateMs", t.generateMs);
  tm.Set("frameWaitMs", t.frameWaitMs);
  tm.Set("promptTokens", t.promptTokens);
  tm.Set("generatedTokens", t.generatedTokens);
  tm.Set("decodedTokens", t.decodedTokens);
  tm.Set("sharedSteps", t.sharedSteps);
  return tm;
}

// { tokens, posT, posH, posW, videoStart, videoEnd, nextPos, grid } (src/addon/interface.ts NativePrepared).
Napi::Object PreparedToJs(Napi::Env env, const PreparedPrompt& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("tokens", ToInt32Array(env, p.tokens));
  o.Set("posT", ToInt32Array(env, p.posT));
  o.Set("posH", ToInt32Array(env, p.posH));
  o.Set("posW", ToInt32Array(env, p.posW));
  o.Set("videoStart", p.videoStart);
  o.Set("videoEnd", p.videoEnd);
  o.Set("nextPos", p.nextPos);
  Napi::Array grid = Napi::Array::New(env, 3);
  grid.Set(0u, p.gridT);
  grid.Set(1u, p.gridH);
  grid.Set(2u, p.gridW);
  o.Set("grid", grid);
  return o;
}

}  // namespace vs2
