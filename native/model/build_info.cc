#include "model/build_info.h"

#include "ggml-backend.h"
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

std::vector<GpuDevice> GpuDevices() {
  std::vector<GpuDevice> out;
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    if (ggml_backend_dev_type(dev) != GGML_BACKEND_DEVICE_TYPE_GPU) continue;
    GpuDevice d;
    d.name = ggml_backend_dev_name(dev);
    d.description = ggml_backend_dev_description(dev);
    ggml_backend_dev_memory(dev, &d.memoryFree, &d.memoryTotal);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace vs2
