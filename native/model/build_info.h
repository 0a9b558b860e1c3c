// What this addon was built from, for versions().
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vs2 {

// The llama.cpp commit of the source tree ("" when it was not a git checkout).
std::string LlamaCommit();
std::string GgmlVersion();
bool CudaCompiled();

// A GPU: one ggml's backends see in this process, or a Vulkan device of the machine that they do
// not (its backend module not loaded, or the build has none).
struct GpuDevice {
  std::string name;         // ggml's device name ("CUDA0", "Vulkan0"); "" when ggml has not loaded it
  std::string backend;      // "cuda", "vulkan"
  std::string description;  // the driver's name for it, e.g. "NVIDIA H200"
  std::string type;         // "discrete", "integrated", "virtual", "software", "other"; "" when unknown
  std::string driver;       // Vulkan: driver name and version; "" otherwise
  int index = -1;           // Vulkan: the loader's index (GGML_VK_VISIBLE_DEVICES's); -1 otherwise
  size_t memoryTotal = 0;   // bytes
  size_t memoryFree = 0;
};

// Every GPU ggml sees, then every Vulkan device it does not. Empty in a CPU build without Vulkan.
std::vector<GpuDevice> GpuDevices();

}  // namespace vs2
