// In-process quantization of a text model GGUF with llama.cpp's quantizer (what llama-quantize does).
#pragma once

#include <functional>
#include <string>

namespace vs2 {

// type: "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16", "BF16", "Q4_0", "Q5_0", "Q4_K_S", "Q5_K_S", "Q3_K_M".
// Throws vs2::Error (ERR_INVALID_OPTION for an unknown type, ERR_MODEL_LOAD when llama.cpp fails).
void Quantize(const std::string& input, const std::string& output, const std::string& type, int threads,
              const std::function<void(int done, int total)>& onTensor);

}  // namespace vs2
