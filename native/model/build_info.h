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

// A GPU that ggml's backends see in this process.
struct GpuDevice {
  std::string name;         // ggml's device name, e.g. "CUDA0"
  std::string description;  // the driver's name for it, e.g. "NVIDIA H200"
  size_t memoryTotal = 0;   // bytes
  size_t memoryFree = 0;
};

// Empty in a CPU build, and in a CUDA build that finds no usable device (no driver, a driver too old).
std::vector<GpuDevice> GpuDevices();

}  // namespace vs2
