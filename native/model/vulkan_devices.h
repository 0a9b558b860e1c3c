// The Vulkan physical devices of this machine, read through the system's loader (libvulkan.so.1,
// opened at run time: the addon never links it). ggml's own list leaves software devices out and
// says nothing of a device's type or driver, which device choice and `videoscore2 info` need.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vs2 {

struct VulkanDevice {
  int index = 0;         // the loader's order: the index GGML_VK_VISIBLE_DEVICES takes
  std::string name;      // "NVIDIA GeForce RTX 4090", "llvmpipe (LLVM 15.0.6, 256 bits)"
  std::string type;      // "discrete", "integrated", "virtual", "software", "other"
  std::string driver;    // driver name and info, e.g. "llvmpipe Mesa 22.3.6 (LLVM 15.0.6)"
  std::string apiVersion;
  uint64_t memoryBytes = 0;  // device-local heaps
};

struct VulkanScan {
  bool loaderFound = false;
  std::string problem;  // why nothing is listed: no loader, no instance, no device
  std::vector<VulkanDevice> devices;
};

// Scanned once per process; later calls return the first scan.
const VulkanScan& ScanVulkan();

}  // namespace vs2
