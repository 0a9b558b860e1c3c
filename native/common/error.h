// Errors of the plain C++ core. `code` is one of the stable codes of src/addon/errors.ts; the binding turns
// an Error into a VideoScoreError with the same code and message.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace vs2 {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Cancellation shared with JavaScript: the flag is an Int32Array over a SharedArrayBuffer that the JS
// side sets when the caller's AbortSignal fires (or the scorer is disposed), so a job notices it
// without a round trip to the JS thread.
class CancelToken {
 public:
  CancelToken() = default;
  // `exiting` is the environment's own flag, raised when its Node environment shuts down.
  explicit CancelToken(const int32_t* flag, const int32_t* exiting = nullptr) : flag_(flag), exiting_(exiting) {}
  int32_t state() const {
    if (exiting_ && __atomic_load_n(exiting_, __ATOMIC_RELAXED)) return 2;
    return flag_ ? __atomic_load_n(flag_, __ATOMIC_RELAXED) : 0;
  }
  bool cancelled() const { return state() != 0; }
  // 1 = aborted by the caller, 2 = scorer disposed.
  void check() const {
    switch (state()) {
      case 0: return;
      case 2: throw Error("ERR_DISPOSED", "The scorer was disposed while this call was in flight");
      default: throw Error("ERR_ABORTED", "The operation was aborted by its AbortSignal");
    }
  }

 private:
  const int32_t* flag_ = nullptr;
  const int32_t* exiting_ = nullptr;
};

}  // namespace vs2
