#include "model/quantize.h"

#include <cstdio>
#include <map>

#include "common/error.h"
#include "llama.h"
#include "model/llama_log.h"

namespace vs2 {

void Quantize(const std::string& input, const std::string& output, const std::string& type, int threads,
              const std::function<void(int, int)>& onTensor) {
  static const std::map<std::string, llama_ftype> kTypes = {
      {"F16", LLAMA_FTYPE_MOSTLY_F16},       {"BF16", LLAMA_FTYPE_MOSTLY_BF16},
      {"Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},     {"Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K},
      {"Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M}, {"Q5_K_S", LLAMA_FTYPE_MOSTLY_Q5_K_S},
      {"Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M}, {"Q4_K_S", LLAMA_FTYPE_MOSTLY_Q4_K_S},
      {"Q3_K_M", LLAMA_FTYPE_MOSTLY_Q3_K_M}, {"Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0},
      {"Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},
  };
  auto it = kTypes.find(type);
  if (it == kTypes.end()) {
    std::string names;
    for (const auto& [k, _] : kTypes) names += (names.empty() ? "" : ", ") + k;
    throw Error("ERR_INVALID_OPTION", "Expected a quantization type (" + names + ") but received \"" + type + "\"");
  }
  InstallLogHandler();
  TakeLastLogErrors();
  llama_model_quantize_params p = llama_model_quantize_default_params();
  p.nthread = threads;
  p.ftype = it->second;
  uint32_t rc;
  {
    // llama_model_quantize has no progress callback; it logs "[  12/ 339] name - …" per tensor.
    ScopedInfoListener progress([&onTensor](const char* text) {
      int done = 0, total = 0;
      if (onTensor && std::sscanf(text, "[%d/%d]", &done, &total) == 2 && total > 0) onTensor(done, total);
    });
    rc = llama_model_quantize(input.c_str(), output.c_str(), &p);
  }
  if (rc != 0) {
    std::string why = TakeLastLogErrors();
    throw Error("ERR_MODEL_LOAD", "Quantizing " + input + " to " + type + " failed" + (why.empty() ? "" : ": " + why));
  }
}

}  // namespace vs2
