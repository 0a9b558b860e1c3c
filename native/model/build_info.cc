#include "model/build_info.h"

#include "ggml.h"

namespace vs2 {

std::string LlamaCommit() {
#ifdef VS2_LLAMA_COMMIT
  return VS2_LLAMA_COMMIT;
#else
  return "";
#endif
}

std::string GgmlVersion() { return ggml_version(); }

bool CudaCompiled() { return VS2_CUDA != 0; }

}  // namespace vs2
