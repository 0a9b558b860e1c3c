#include "model/backend_modules.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <mutex>

#include "common/error.h"
#include "ggml-backend.h"
#include "model/llama_log.h"
#include "model/vulkan_devices.h"

namespace vs2 {
namespace {

std::mutex gMutex;
bool gCpuLoaded = false;
CpuBackend gCpu;
std::map<std::string, std::string> gModules;  // path -> "" or why it did not load

constexpr const char* kCpuPrefix = "libggml-cpu-";
constexpr const char* kAmxVariant = "sapphirerapids";

bool AmxAllowed() {
  const char* v = std::getenv("VIDEOSCORE2_CPU_AMX");
  return v && std::string(v) == "1";
}

// ggml_backend_score of one variant: 0 when this CPU lacks an instruction set it was built for.
// Only its feature check runs: ggml builds that part without the variant's instruction flags.
int ScoreOf(const std::string& path) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return -1;
  using ScoreFn = int (*)();
  auto fn = reinterpret_cast<ScoreFn>(dlsym(h, "ggml_backend_score"));
  int s = fn ? fn() : -1;
  dlclose(h);
  return s;
}

// ggml-vulkan leaves software devices out unless GGML_VK_VISIBLE_DEVICES names them, and reads it
// once, when it initialises: make every device visible, so that ours is the one choice (a software
// device is used only when asked for). A value the user set is kept.
std::string PrepareVulkan() {
  const VulkanScan& scan = ScanVulkan();
  if (scan.devices.empty()) return scan.problem;
  if (!std::getenv("GGML_VK_VISIBLE_DEVICES")) {
    std::string all;
    for (const auto& d : scan.devices) all += (all.empty() ? "" : ",") + std::to_string(d.index);
    setenv("GGML_VK_VISIBLE_DEVICES", all.c_str(), 0);
  }
  return "";
}

}  // namespace

bool ModularBackends() { return VS2_MODULAR != 0; }

const CpuBackend& LoadCpuBackend(const std::string& dir) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (gCpuLoaded) return gCpu;
  if (!ModularBackends()) {
    gCpu.variant = "built-in";
    gCpuLoaded = true;
    return gCpu;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string best;
  int bestScore = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string file = it->path().filename().string();
    if (file.rfind(kCpuPrefix, 0) != 0 || it->path().extension() != ".so") continue;
    const std::string variant = file.substr(std::string(kCpuPrefix).size(), file.size() - std::string(kCpuPrefix).size() - 3);
    int s = ScoreOf(it->path().string());
    // The AMX level is opt-in: on an AMX CPU in a Firecracker VM, with the kernel granting tile
    // permission, its q8_0 kernels still died with SIGILL at the first tile instruction (2026-12-07).
    // A signal cannot be caught and turned into an error; the AVX-512 levels below it run there.
    if (variant == kAmxVariant && s > 0 && !AmxAllowed()) s = 0;
    gCpu.scores.emplace_back(variant, s);
    if (s > bestScore) {
      bestScore = s;
      best = it->path().string();
      gCpu.variant = variant;
    }
  }
  if (gCpu.scores.empty())
    throw Error("ERR_BINARY_NOT_FOUND", "No CPU backend (libggml-cpu-*.so) beside the addon in " + dir +
                                            "; reinstall the platform package, or rebuild with `node scripts/build.mjs`");
  if (best.empty()) {
    std::string tried;
    for (const auto& [v, s] : gCpu.scores) tried += (tried.empty() ? "" : ", ") + v;
    throw Error("ERR_CPU_UNSUPPORTED",
                "This CPU runs none of the CPU backends shipped (" + tried +
                    "): the lowest needs x86-64-v2 (SSE4.2, POPCNT). Use a newer CPU, or a virtual machine that passes its "
                    "CPU's features through (e.g. QEMU -cpu host)");
  }
  TakeLastLogErrors();
  if (!ggml_backend_load(best.c_str())) {
    std::string why = TakeLastLogErrors();
    throw Error("ERR_BINARY_NOT_FOUND", "Cannot load the CPU backend " + best + (why.empty() ? "" : ": " + why) +
                                            "; reinstall the platform package");
  }
  gCpu.path = best;
  gCpuLoaded = true;
  return gCpu;
}

std::string LoadGpuModule(const std::string& path) {
  std::lock_guard<std::mutex> lock(gMutex);
  if (auto it = gModules.find(path); it != gModules.end()) return it->second;
  std::string why;
  if (!ModularBackends()) {
    why = "this build links its backends statically and loads no modules";
  } else if (path.find("vulkan") != std::string::npos && !(why = PrepareVulkan()).empty()) {
    // why says what is missing
  } else if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL); !h) {
    // Its own error names the missing library (libvulkan.so.1, ...).
    const char* e = dlerror();
    why = std::string("cannot load ") + path + ": " + (e ? e : "dlopen failed");
  } else {
    dlclose(h);
    TakeLastLogErrors();
    if (!ggml_backend_load(path.c_str())) {
      std::string log = TakeLastLogErrors();
      why = "the backend in " + path + " did not initialise" + (log.empty() ? "" : ": " + log);
    }
  }
  gModules[path] = why;
  return why;
}

}  // namespace vs2
