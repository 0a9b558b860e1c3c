#include "model/vulkan_devices.h"

#include <dlfcn.h>

#include <mutex>

#if VS2_VULKAN_HEADERS
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan_core.h>
#endif

namespace vs2 {
namespace {

#if VS2_VULKAN_HEADERS
std::string TypeName(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "software";
    default: return "other";
  }
}

std::string Version(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

VulkanScan Scan() {
  VulkanScan out;
  // Kept open for the process: ggml-vulkan opens the same loader, and closing it under a live
  // instance of theirs would gain nothing.
  void* lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    out.problem = std::string("the Vulkan loader libvulkan.so.1 is not installed (") + (why ? why : "dlopen failed") +
                  "); install it (Debian/Ubuntu: apt install libvulkan1) with your GPU's Vulkan driver";
    return out;
  }
  out.loaderFound = true;
  auto getProc = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
  auto createInstance = getProc ? reinterpret_cast<PFN_vkCreateInstance>(getProc(nullptr, "vkCreateInstance")) : nullptr;
  if (!createInstance) {
    out.problem = "libvulkan.so.1 has no vkCreateInstance; reinstall the Vulkan loader";
    return out;
  }
  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "videoscore2-native";
  app.apiVersion = VK_API_VERSION_1_1;
  VkInstanceCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  ci.pApplicationInfo = &app;
  VkInstance instance = VK_NULL_HANDLE;
  VkResult r = createInstance(&ci, nullptr, &instance);
  if (r != VK_SUCCESS) {
    out.problem = "vkCreateInstance failed (VkResult " + std::to_string(r) +
                  "): no Vulkan driver (ICD) is installed; install your GPU's Vulkan driver (Mesa: mesa-vulkan-drivers)";
    return out;
  }
  auto get = [&](const char* n) { return getProc(instance, n); };
  auto destroy = reinterpret_cast<PFN_vkDestroyInstance>(get("vkDestroyInstance"));
  auto enumerate = reinterpret_cast<PFN_vkEnumeratePhysicalDevices>(get("vkEnumeratePhysicalDevices"));
  auto props = reinterpret_cast<PFN_vkGetPhysicalDeviceProperties>(get("vkGetPhysicalDeviceProperties"));
  auto props2 = reinterpret_cast<PFN_vkGetPhysicalDeviceProperties2>(get("vkGetPhysicalDeviceProperties2"));
  auto memProps = reinterpret_cast<PFN_vkGetPhysicalDeviceMemoryProperties>(get("vkGetPhysicalDeviceMemoryProperties"));
  uint32_t n = 0;
  if (enumerate && props && memProps && enumerate(instance, &n, nullptr) == VK_SUCCESS && n > 0) {
    std::vector<VkPhysicalDevice> devs(n);
    enumerate(instance, &n, devs.data());
    for (uint32_t i = 0; i < n; ++i) {
      VkPhysicalDeviceProperties p{};
      props(devs[i], &p);
      VulkanDevice d;
      d.index = static_cast<int>(i);
      d.name = p.deviceName;
      d.type = TypeName(p.deviceType);
      d.apiVersion = Version(p.apiVersion);
      if (props2 && p.apiVersion >= VK_API_VERSION_1_2) {
        VkPhysicalDeviceDriverProperties drv{};
        drv.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
        VkPhysicalDeviceProperties2 p2{};
        p2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
        p2.pNext = &drv;
        props2(devs[i], &p2);
        d.driver = std::string(drv.driverName) + (drv.driverInfo[0] ? std::string(" ") + drv.driverInfo : "");
      }
      VkPhysicalDeviceMemoryProperties m{};
      memProps(devs[i], &m);
      for (uint32_t h = 0; h < m.memoryHeapCount; ++h)
        if (m.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) d.memoryBytes += m.memoryHeaps[h].size;
      out.devices.push_back(std::move(d));
    }
  }
  if (out.devices.empty()) out.problem = "the Vulkan loader finds no device; install your GPU's Vulkan driver";
  if (destroy) destroy(instance, nullptr);
  return out;
}
#else
VulkanScan Scan() {
  VulkanScan out;
  out.problem = "this build of the addon has no Vulkan support";
  return out;
}
#endif

}  // namespace

const VulkanScan& ScanVulkan() {
  static std::once_flag once;
  static VulkanScan scan;
  std::call_once(once, [] { scan = Scan(); });
  return scan;
}

}  // namespace vs2
