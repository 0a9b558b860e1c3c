#include "model/build_info.h"

#include "ggml-backend.h"
#include "ggml.h"
#include "model/vulkan_devices.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

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
  const VulkanScan& vk = ScanVulkan();
  // ggml's VulkanN is the Nth index of GGML_VK_VISIBLE_DEVICES (backend_modules.cc sets it to all).
  std::vector<int> visible;
  if (const char* env = std::getenv("GGML_VK_VISIBLE_DEVICES")) {
    std::string list(env);
    for (char& c : list) c = c == ',' ? ' ' : c;
    std::istringstream in(list);
    for (int i; in >> i;) visible.push_back(i);
  }
  std::vector<bool> seen(vk.devices.size(), false);
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    const auto type = ggml_backend_dev_type(dev);
    if (type != GGML_BACKEND_DEVICE_TYPE_GPU && type != GGML_BACKEND_DEVICE_TYPE_IGPU) continue;
    GpuDevice d;
    d.name = ggml_backend_dev_name(dev);
    d.description = ggml_backend_dev_description(dev);
    ggml_backend_dev_memory(dev, &d.memoryFree, &d.memoryTotal);
    int n = -1;
    if (d.name.rfind("Vulkan", 0) == 0 && std::sscanf(d.name.c_str(), "Vulkan%d", &n) == 1) {
      d.backend = "vulkan";
      const int physical = n < static_cast<int>(visible.size()) ? visible[n] : n;
      if (physical >= 0 && physical < static_cast<int>(vk.devices.size())) {
        const VulkanDevice& v = vk.devices[physical];
        d.index = v.index;
        d.type = v.type;
        d.driver = v.driver;
        seen[physical] = true;
      }
    } else {
      d.backend = d.name.rfind("CUDA", 0) == 0 ? "cuda" : "other";
      d.type = type == GGML_BACKEND_DEVICE_TYPE_IGPU ? "integrated" : "discrete";
    }
    out.push_back(std::move(d));
  }
  for (size_t i = 0; i < vk.devices.size(); ++i) {
    if (seen[i]) continue;
    const VulkanDevice& v = vk.devices[i];
    GpuDevice d;
    d.backend = "vulkan";
    d.description = v.name;
    d.type = v.type;
    d.driver = v.driver;
    d.index = v.index;
    d.memoryTotal = v.memoryBytes;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace vs2
