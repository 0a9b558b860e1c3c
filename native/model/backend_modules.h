// ggml's backends as modules (the modular layout, docs/backends.md): the CPU backend of the best x86
// level this CPU runs, and GPU backends (Vulkan) by path. ggml's registry is one per process, so
// each module is loaded once, whatever thread or environment asks.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace vs2 {

struct CpuBackend {
  std::string variant;  // "haswell", ...; "built-in" in a monolithic build
  std::string path;     // the module loaded; "" in a monolithic build
  std::vector<std::pair<std::string, int>> scores;  // every variant found and ggml's score for this CPU (0: cannot run)
};

// Whether the backends are modules (else they are linked into the .node).
bool ModularBackends();

// Loads the best libggml-cpu-<variant>.so of `dir` once; later calls return the first result.
// Throws ERR_CPU_UNSUPPORTED when no variant runs on this CPU, ERR_BINARY_NOT_FOUND when there is none.
const CpuBackend& LoadCpuBackend(const std::string& dir);

// Loads a GPU backend module (libggml-vulkan.so) once. Returns "" when its devices are registered,
// else why not, in words that name what is missing.
std::string LoadGpuModule(const std::string& path);

}  // namespace vs2
