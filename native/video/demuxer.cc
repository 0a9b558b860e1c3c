#include "video/demuxer.h"

#include <cstdio>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
}

namespace vs2 {
namespace {

// This build has no image decoders, so libav may fail to open a still image at all: name it from
// its signature instead of calling it a corrupt video.
const char* StillImageKind(const std::string& path, const uint8_t* data, size_t size) {
  unsigned char head[12] = {};
  size_t n = 0;
  if (data) {
    n = std::min(size, sizeof head);
    std::memcpy(head, data, n);
  } else if (FILE* f = std::fopen(path.c_str(), "rb")) {
    n = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
  }
  if (n >= 8 && std::memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0) return "PNG";
  if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return "JPEG";
  if (n >= 12 && std::memcmp(head, "RIFF", 4) == 0 && std::memcmp(head + 8, "WEBP", 4) == 0) return "WebP";
  if (n >= 4 && (std::memcmp(head, "II*\0", 4) == 0 || std::memcmp(head, "MM\0*", 4) == 0)) return "TIFF";
  return nullptr;
}

}  // namespace

std::string AvErrorText(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

// Bytes in memory exposed to libavformat as a seekable stream.
struct Demuxer::MemoryReader {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;

  static int Read(void* opaque, uint8_t* buf, int n) {
    auto* r = static_cast<MemoryReader*>(opaque);
    if (r->pos >= r->size) return AVERROR_EOF;
    size_t k = std::min<size_t>(static_cast<size_t>(n), r->size - r->pos);
    std::memcpy(buf, r->data + r->pos, k);
    r->pos += k;
    return static_cast<int>(k);
  }
  static int64_t Seek(void* opaque, int64_t offset, int whence) {
    auto* r = static_cast<MemoryReader*>(opaque);
    if (whence & AVSEEK_SIZE) return static_cast<int64_t>(r->size);
    int64_t base = 0;
    switch (whence & ~AVSEEK_FORCE) {
      case SEEK_SET: base = 0; break;
      case SEEK_CUR: base = static_cast<int64_t>(r->pos); break;
      case SEEK_END: base = static_cast<int64_t>(r->size); break;
      default: return AVERROR(EINVAL);
    }
    int64_t p = base + offset;
    if (p < 0 || p > static_cast<int64_t>(r->size)) return AVERROR(EINVAL);
    r->pos = static_cast<size_t>(p);
    return p;
  }
};

Demuxer::Demuxer(const std::string& path, const uint8_t* data, size_t size, std::string label,
                 const Interrupt* interrupt)
    : label_(std::move(label)), interrupt_(interrupt) {
  // libav's own warnings ("moov atom not found", …) would land on the host app's stderr; our
  // errors carry the reason instead. VIDEOSCORE2_LOG=debug|info|warn shows them.
  static std::once_flag quiet;
  std::call_once(quiet, [] { av_log_set_level(std::getenv("VIDEOSCORE2_LOG") ? AV_LOG_WARNING : AV_LOG_QUIET); });

  try {
    Open(path, data, size);
  } catch (...) {
    Free();  // a constructor that throws gets no destructor call
    throw;
  }
}

void Demuxer::Open(const std::string& path, const uint8_t* data, size_t size) {
  fmt_ = avformat_alloc_context();
  if (!fmt_) throw Error("ERR_INTERNAL", "out of memory allocating a demuxer");
  // Interrupt long probes and reads on abort or deadline.
  fmt_->interrupt_callback.callback = [](void* opaque) -> int {
    return static_cast<Demuxer*>(opaque)->interrupt_->raised() ? 1 : 0;
  };
  fmt_->interrupt_callback.opaque = this;
  if (data) {
    memory_ = std::make_unique<MemoryReader>(MemoryReader{data, size});
    constexpr int kBuf = 1 << 16;
    auto* buf = static_cast<uint8_t*>(av_malloc(kBuf));
    avio_ = buf ? avio_alloc_context(buf, kBuf, 0, memory_.get(), &MemoryReader::Read, nullptr, &MemoryReader::Seek)
                : nullptr;
    if (!avio_) {
      av_free(buf);
      throw Error("ERR_INTERNAL", "out of memory allocating an I/O context");
    }
  } else {
    // The "file:" prefix keeps a path with a colon from naming a protocol (http:, pipe:, …).
    int err = avio_open2(&avio_, ("file:" + path).c_str(), AVIO_FLAG_READ, &fmt_->interrupt_callback, nullptr);
    if (err < 0) throw Error("ERR_INPUT_UNREADABLE", "Cannot read " + label_ + ": " + AvErrorText(err));
  }
  fmt_->pb = avio_;
  fmt_->flags |= AVFMT_FLAG_CUSTOM_IO;  // ours to close (Free), whatever happens before the open
  // One input is one self-contained file: a playlist or reference container (HLS, DASH, concat,
  // SDP, …) would have libav open further files or URLs it names. Every such open is refused: by
  // io_open here, and by an empty protocol whitelist for demuxers that open a nested context of
  // their own (concat), which inherits the whitelist but not io_open.
  fmt_->protocol_whitelist = av_strdup("none");
  if (!fmt_->protocol_whitelist) throw Error("ERR_INTERNAL", "out of memory");
  fmt_->io_open = [](AVFormatContext* s, AVIOContext**, const char* url, int, AVDictionary**) -> int {
    auto* self = static_cast<Demuxer*>(s->interrupt_callback.opaque);
    if (self->refusedUrl_.empty()) self->refusedUrl_ = url ? url : "?";
    return AVERROR(EPERM);
  };

  // The path still names the input: probing weighs its extension, as before custom I/O.
  int err = avformat_open_input(&fmt_, data ? nullptr : path.c_str(), nullptr, nullptr);
  if (err < 0) {
    fmt_ = nullptr;  // freed by avformat_open_input on failure
    RefuseReferences();
    if (err == AVERROR(EACCES) || err == AVERROR(EIO))
      throw Error("ERR_INPUT_UNREADABLE", "Cannot read " + label_ + ": " + AvErrorText(err));
    if (const char* kind = StillImageKind(path, data, size))
      throw Error("ERR_NO_VIDEO_STREAM", label_ + " is a still image (" + kind + "), not a video; give it a video file");
    throw Error("ERR_DECODE", "Cannot open " + label_ + " as a video (" + AvErrorText(err) +
                                  "); it is corrupt, truncated or not a video container (playlists and "
                                  "reference files, e.g. HLS or concat lists, are not followed)");
  }
}

Demuxer::~Demuxer() { Free(); }

void Demuxer::Free() {
  avformat_close_input(&fmt_);  // custom I/O: the AVIO context is ours to close
  if (memory_) {
    if (avio_) av_freep(&avio_->buffer);
    avio_context_free(&avio_);
  } else {
    avio_closep(&avio_);
  }
}

void Demuxer::FindStreamInfo() {
  int err = avformat_find_stream_info(fmt_, nullptr);
  RefuseReferences();
  if (err < 0) throw Error("ERR_DECODE", "Cannot read stream information of " + label_ + ": " + AvErrorText(err));
}

void Demuxer::RefuseReferences() const {
  if (!refusedUrl_.empty())
    throw Error("ERR_DECODE", label_ + " is a playlist or reference file that points to other media (" +
                                  refusedUrl_.substr(0, 200) + "); give the video file itself");
}

}  // namespace vs2
