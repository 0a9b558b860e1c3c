// One libavformat input (a file or bytes in memory) opened with our protections: reads are
// interruptible by a cancel token or deadline, and nested opens (playlists, reference files) are
// refused. The sampler opens one to index a video and one more per parallel decoder.
// Plain C++ (libav types only).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"

struct AVFormatContext;
struct AVIOContext;

namespace vs2 {

using Clock = std::chrono::steady_clock;

// What may stop a read in progress; shared by every demuxer of one source.
struct Interrupt {
  const CancelToken* cancel = nullptr;
  Clock::time_point deadline = Clock::time_point::max();
  bool raised() const { return (cancel && cancel->cancelled()) || Clock::now() > deadline; }
};

class Demuxer {
 public:
  // `path` is opened as a file when `data` is null; otherwise the `size` bytes at `data` are read
  // (not copied: they must outlive the demuxer). Throws ERR_INPUT_UNREADABLE or ERR_DECODE (also
  // when interrupted: the caller tells an abort or deadline apart); `label` names the input in
  // messages. Does not read stream info (see FindStreamInfo).
  Demuxer(const std::string& path, const uint8_t* data, size_t size, std::string label, const Interrupt* interrupt);
  ~Demuxer();
  Demuxer(const Demuxer&) = delete;
  Demuxer& operator=(const Demuxer&) = delete;

  void FindStreamInfo();
  AVFormatContext* fmt() const { return fmt_; }
  const std::string& label() const { return label_; }

  // Throws ERR_DECODE when the input tried to open another file or URL.
  void RefuseReferences() const;

 private:
  struct MemoryReader;
  void Open(const std::string& path, const uint8_t* data, size_t size);
  void Free();

  std::string label_;
  const Interrupt* interrupt_;
  std::unique_ptr<MemoryReader> memory_;
  AVIOContext* avio_ = nullptr;  // ours (memory or file) so that nested opens can be refused
  AVFormatContext* fmt_ = nullptr;
  std::string refusedUrl_;  // first nested open the demuxer attempted
};

std::string AvErrorText(int err);

}  // namespace vs2
