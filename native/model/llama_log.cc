#include "model/llama_log.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "ggml.h"
#include "llama.h"
#include "mtmd.h"

namespace vs2 {
namespace {

thread_local std::string tLastErrors;
thread_local const std::function<void(const char*)>* tInfoListener = nullptr;
int gLogLevel = -1;  // -1 unset; otherwise the minimum ggml_log_level printed to stderr

void LogCallback(ggml_log_level level, const char* text, void*) {
  if (level == GGML_LOG_LEVEL_INFO && tInfoListener) (*tInfoListener)(text);
  if (level == GGML_LOG_LEVEL_ERROR) {
    if (tLastErrors.size() < 4096) tLastErrors += text;
  }
  if (gLogLevel >= 0 && level != GGML_LOG_LEVEL_CONT && static_cast<int>(level) >= gLogLevel) std::fputs(text, stderr);
}

}  // namespace

void InstallLogHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* lvl = std::getenv("VIDEOSCORE2_LOG");
    if (lvl) {
      std::string v(lvl);
      gLogLevel = v == "debug" ? GGML_LOG_LEVEL_DEBUG : v == "info" ? GGML_LOG_LEVEL_INFO
                : v == "warn" ? GGML_LOG_LEVEL_WARN : GGML_LOG_LEVEL_ERROR;
    }
    llama_log_set(LogCallback, nullptr);
    mtmd_log_set(LogCallback, nullptr);
  });
}

std::string TakeLastLogErrors() {
  std::string s;
  s.swap(tLastErrors);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

ScopedInfoListener::ScopedInfoListener(std::function<void(const char*)> listener)
    : listener_(std::move(listener)), previous_(tInfoListener) {
  tInfoListener = &listener_;
}

ScopedInfoListener::~ScopedInfoListener() { tInfoListener = previous_; }

}  // namespace vs2
