// Where llama.cpp, ggml and mtmd log to: silent by default except errors, which are kept per thread
// so that a failure can say why (VIDEOSCORE2_LOG=debug|info|warn|error prints from that level).
#pragma once

#include <functional>
#include <string>

namespace vs2 {

void InstallLogHandler();
// The error lines logged on this thread since the last call, trimmed.
std::string TakeLastLogErrors();

// While it lives, this thread's INFO lines also go to `listener` (llama_model_quantize reports its
// progress only as log lines).
class ScopedInfoListener {
 public:
  explicit ScopedInfoListener(std::function<void(const char*)> listener);
  ~ScopedInfoListener();
  ScopedInfoListener(const ScopedInfoListener&) = delete;
  ScopedInfoListener& operator=(const ScopedInfoListener&) = delete;

 private:
  std::function<void(const char*)> listener_;
  const std::function<void(const char*)>* previous_;
};

}  // namespace vs2
