#include "video/sampler.h"

#include "video/frame_converter.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sys/stat.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

namespace vs2 {
namespace {

std::string AvErr(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

std::string VersionString(unsigned v) {
  return std::to_string(AV_VERSION_MAJOR(v)) + "." + std::to_string(AV_VERSION_MINOR(v)) + "." +
         std::to_string(AV_VERSION_MICRO(v));
}

// Bytes in memory exposed to libavformat as a seekable stream.
struct MemoryReader {
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

// One entry per video packet, sorted into presentation order after indexing.
struct FrameEntry {
  int64_t pts;
  bool key;
  bool corrupt;  // the demuxer flagged the packet (e.g. a sample cut short by truncation)
};

using Clock = std::chrono::steady_clock;

}  // namespace

struct VideoSource::Impl {
  VideoLimits limits;
  std::string label;  // path or "<buffer>" for messages
  std::unique_ptr<MemoryReader> memory;
  AVIOContext* avio = nullptr;    // memory input
  AVIOContext* fileIo = nullptr;  // file input (opened here, so that nested opens can be refused)
  std::string refusedUrl;         // first nested open a demuxer attempted
  AVFormatContext* fmt = nullptr;
  AVCodecContext* codec = nullptr;
  AVPacket* pkt = nullptr;
  AVFrame* frame = nullptr;
  int streamIndex = -1;
  AVRational timeBase{1, 1};
  int64_t startPts = 0;
  bool haveTimestamps = true;  // false: presentation index = decode order, no seeking
  std::vector<FrameEntry> frames;  // presentation order
  std::vector<int64_t> keyIndices; // presentation indices of keyframes, ascending
  VideoInfo info;
  Clock::time_point deadline = Clock::time_point::max();

  ~Impl() {
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&codec);
    avformat_close_input(&fmt);  // custom I/O: the AVIO contexts are ours to close
    avio_closep(&fileIo);
    if (avio) {
      av_freep(&avio->buffer);
      avio_context_free(&avio);
    }
  }

  void RefuseReferences() const {
    if (!refusedUrl.empty())
      throw Error("ERR_DECODE", label + " is a playlist or reference file that points to other media (" +
                                    refusedUrl.substr(0, 200) + "); give the video file itself");
  }

  // The first decode after Open() shares Open()'s budget (limits.deadlineSeconds covers open +
  // index + decode); a later decode of the same source starts a budget of its own.
  bool clockFromOpen = false;
  void ContinueOrStartClock() {
    if (clockFromOpen) clockFromOpen = false;
    else StartClock();
  }

  void StartClock() {
    if (limits.deadlineSeconds > 0)
      deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(limits.deadlineSeconds));
  }
  void CheckBudget(const CancelToken& cancel) const {
    cancel.check();
    if (Clock::now() > deadline)
      throw Error("ERR_VIDEO_LIMITS", "Decoding " + label + " took longer than the decode deadline of " +
                                          std::to_string(limits.deadlineSeconds) +
                                          " s; raise limits.deadlineSeconds or use a shorter clip");
  }

  void Open(const CancelToken& cancel) {
    // libav's own warnings ("moov atom not found", …) would land on the host app's stderr; our
    // errors carry the reason instead. VIDEOSCORE2_LOG=debug|info|warn shows them.
    static std::once_flag quiet;
    std::call_once(quiet, [] { av_log_set_level(std::getenv("VIDEOSCORE2_LOG") ? AV_LOG_WARNING : AV_LOG_QUIET); });
    StartClock();
    clockFromOpen = true;
    fmt = avformat_alloc_context();
    if (!fmt) throw Error("ERR_INTERNAL", "out of memory allocating a demuxer");
    if (memory) {
      constexpr int kBuf = 1 << 16;
      auto* buf = static_cast<uint8_t*>(av_malloc(kBuf));
      avio = avio_alloc_context(buf, kBuf, 0, memory.get(), &MemoryReader::Read, nullptr, &MemoryReader::Seek);
      if (!avio) {
        av_free(buf);
        throw Error("ERR_INTERNAL", "out of memory allocating an I/O context");
      }
    }
    // Interrupt long probes and reads on abort or deadline.
    fmt->interrupt_callback.callback = [](void* opaque) -> int {
      auto* self = static_cast<Impl*>(opaque);
      return (self->cancelToken && self->cancelToken->cancelled()) || Clock::now() > self->deadline ? 1 : 0;
    };
    fmt->interrupt_callback.opaque = this;
    cancelToken = &cancel;
    if (!memory) {
      // The "file:" prefix keeps a path with a colon from naming a protocol (http:, pipe:, …).
      int err = avio_open2(&fileIo, ("file:" + label).c_str(), AVIO_FLAG_READ, &fmt->interrupt_callback, nullptr);
      if (err < 0) throw Error("ERR_INPUT_UNREADABLE", "Cannot read " + label + ": " + AvErr(err));
    }
    fmt->pb = memory ? avio : fileIo;
    // One input is one self-contained file: a playlist or reference container (HLS, DASH, concat,
    // SDP, …) would have libav open further files or URLs it names. Every such open is refused: by
    // io_open here, and by an empty protocol whitelist for demuxers that open a nested context of
    // their own (concat), which inherits the whitelist but not io_open.
    fmt->protocol_whitelist = av_strdup("none");
    if (!fmt->protocol_whitelist) throw Error("ERR_INTERNAL", "out of memory");
    fmt->io_open = [](AVFormatContext* s, AVIOContext**, const char* url, int, AVDictionary**) -> int {
      auto* self = static_cast<Impl*>(s->interrupt_callback.opaque);
      if (self->refusedUrl.empty()) self->refusedUrl = url ? url : "?";
      return AVERROR(EPERM);
    };

    // The path still names the input: probing weighs its extension, as before custom I/O.
    int err = avformat_open_input(&fmt, memory ? nullptr : label.c_str(), nullptr, nullptr);
    if (err < 0) {
      fmt = nullptr;  // freed by avformat_open_input on failure
      CheckBudget(cancel);
      RefuseReferences();
      if (err == AVERROR(EACCES) || err == AVERROR(EIO))
        throw Error("ERR_INPUT_UNREADABLE", "Cannot read " + label + ": " + AvErr(err));
      throw Error("ERR_DECODE", "Cannot open " + label + " as a video (" + AvErr(err) +
                                    "); it is corrupt, truncated or not a video container (playlists and "
                                    "reference files, e.g. HLS or concat lists, are not followed)");
    }
    err = avformat_find_stream_info(fmt, nullptr);
    CheckBudget(cancel);
    RefuseReferences();
    if (err < 0) throw Error("ERR_DECODE", "Cannot read stream information of " + label + ": " + AvErr(err));

    const AVCodec* dec = nullptr;
    streamIndex = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
    if (streamIndex == AVERROR_STREAM_NOT_FOUND)
      throw Error("ERR_NO_VIDEO_STREAM", label + " has no video stream (audio-only or data file); give it a video");
    if (streamIndex < 0 || !dec)
      throw Error("ERR_DECODE", label + " has a video stream in a codec this build of libavcodec cannot decode");
    AVStream* st = fmt->streams[streamIndex];
    if (st->disposition & AV_DISPOSITION_ATTACHED_PIC)
      throw Error("ERR_NO_VIDEO_STREAM", label + " only has cover art, not a video stream");
    const char* fmtName = fmt->iformat ? fmt->iformat->name : "";
    if (std::strstr(fmtName, "image2") || std::strstr(fmtName, "_pipe"))
      throw Error("ERR_NO_VIDEO_STREAM", label + " is a still image (" + std::string(fmtName) +
                                             "), not a video; give it a video file");
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (static_cast<int>(i) != streamIndex) fmt->streams[i]->discard = AVDISCARD_ALL;

    AVCodecParameters* par = st->codecpar;
    if (par->width <= 0 || par->height <= 0)
      throw Error("ERR_DECODE", label + " has a video stream without a frame size");
    if (static_cast<int64_t>(par->width) * par->height > limits.maxPixelsPerFrame)
      throw Error("ERR_VIDEO_LIMITS", label + " has " + std::to_string(par->width) + "x" +
                                          std::to_string(par->height) + " frames, more than limits.maxPixelsPerFrame (" +
                                          std::to_string(limits.maxPixelsPerFrame) + "); raise the limit to accept it");
    timeBase = st->time_base;
    info.width = par->width;
    info.height = par->height;
    info.codec = dec->name;
    info.container = fmtName;

    codec = avcodec_alloc_context3(dec);
    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    if (!codec || !pkt || !frame) throw Error("ERR_INTERNAL", "out of memory allocating a decoder");
    avcodec_parameters_to_context(codec, par);
    codec->pkt_timebase = st->time_base;
    codec->thread_count = limits.threads;
    codec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    err = avcodec_open2(codec, dec, nullptr);
    if (err < 0) throw Error("ERR_DECODE", "Cannot open the " + info.codec + " decoder for " + label + ": " + AvErr(err));

    Index(cancel);
  }

  // Counts frames the way frame-accurate readers do: one per video packet, in presentation order.
  void Index(const CancelToken& cancel) {
    AVStream* st = fmt->streams[streamIndex];
    int64_t n = 0;
    while (true) {
      if ((n & 255) == 0) CheckBudget(cancel);
      int err = av_read_frame(fmt, pkt);
      if (err == AVERROR_EOF) break;
      if (err < 0) {
        CheckBudget(cancel);
        // A truncated file ends with a read error after some packets: index what is there.
        if (!frames.empty()) break;
        throw Error("ERR_DECODE", "Cannot read packets of " + label + ": " + AvErr(err));
      }
      if (pkt->stream_index == streamIndex && !(pkt->flags & AV_PKT_FLAG_DISCARD) && pkt->size > 0) {
        // Without a pts on every packet, timestamps do not give presentation order: AVI and raw
        // streams carry decode-order dts only, which with B-frames labels each output frame with
        // the wrong index. Then frames are counted as the decoder outputs them, without seeking.
        int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (pkt->pts == AV_NOPTS_VALUE) haveTimestamps = false;
        frames.push_back({ts, (pkt->flags & AV_PKT_FLAG_KEY) != 0, (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0});
        if (++n > limits.maxFrames)
          throw Error("ERR_VIDEO_LIMITS", label + " has more than limits.maxFrames (" +
                                              std::to_string(limits.maxFrames) + ") frames; raise the limit or trim the video");
      }
      av_packet_unref(pkt);
    }
    // A truncated file ends with the part of a sample that was written (flagged corrupt by the
    // demuxer): it cannot be decoded into a frame, so it is not one. Decode() skips it too.
    while (!frames.empty() && frames.back().corrupt) frames.pop_back();
    if (haveTimestamps) {
      std::stable_sort(frames.begin(), frames.end(), [](const FrameEntry& a, const FrameEntry& b) { return a.pts < b.pts; });
      // Two packets with one pts cannot both be presented; readers that index by pts see one frame.
      frames.erase(std::unique(frames.begin(), frames.end(),
                               [](const FrameEntry& a, const FrameEntry& b) { return a.pts == b.pts; }),
                   frames.end());
    }
    for (size_t i = 0; i < frames.size(); ++i)
      if (frames[i].key) keyIndices.push_back(static_cast<int64_t>(i));
    info.totalFrames = static_cast<int64_t>(frames.size());
    info.containerCountAgrees = st->nb_frames == info.totalFrames;
    startPts = haveTimestamps && !frames.empty() ? frames.front().pts : 0;

    AVRational rate = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate : st->r_frame_rate;
    double duration = 0;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) duration = st->duration * av_q2d(timeBase);
    else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) duration = fmt->duration / double(AV_TIME_BASE);
    info.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : (duration > 0 ? info.totalFrames / duration : 0);
    if (!(info.fps > 0) || info.fps > 100000) info.fps = duration > 0 ? info.totalFrames / duration : 0;
    if (duration <= 0 && info.fps > 0) duration = info.totalFrames / info.fps;
    info.durationSeconds = duration;
    if (info.totalFrames == 0) throw Error("ERR_DECODE", label + " has a video stream with no frames in it");
    if (!(info.fps > 0)) throw Error("ERR_DECODE", label + " has no usable frame rate or duration");
    Rewind();
  }

  void Rewind() {
    int err = av_seek_frame(fmt, streamIndex, haveTimestamps ? startPts : 0, AVSEEK_FLAG_BACKWARD);
    if (err < 0) err = avformat_seek_file(fmt, streamIndex, INT64_MIN, 0, INT64_MAX, 0);
    if (err < 0) throw Error("ERR_DECODE", "Cannot rewind " + label + " after indexing: " + AvErr(err));
    avcodec_flush_buffers(codec);
  }

  int64_t PresentationIndex(int64_t ts) const {
    auto it = std::lower_bound(frames.begin(), frames.end(), ts, [](const FrameEntry& e, int64_t v) { return e.pts < v; });
    if (it == frames.end()) return static_cast<int64_t>(frames.size()) - 1;
    if (it != frames.begin() && it->pts != ts && (ts - (it - 1)->pts) < (it->pts - ts)) --it;
    return it - frames.begin();
  }

  const CancelToken* cancelToken = nullptr;
};

VideoSource::VideoSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoSource::~VideoSource() = default;
const VideoInfo& VideoSource::info() const { return impl_->info; }

std::unique_ptr<VideoSource> VideoSource::OpenFile(const std::string& path, const VideoLimits& limits,
                                                   const CancelToken& cancel) {
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0) {
    if (errno == EACCES) throw Error("ERR_INPUT_UNREADABLE", "Cannot access " + path + ": permission denied");
    throw Error("ERR_INPUT_NOT_FOUND", "No such file: " + path + "; check the path");
  }
  if (!S_ISREG(sb.st_mode)) throw Error("ERR_INPUT_NOT_FOUND", path + " is not a regular file; give a video file");
  if (sb.st_size == 0) throw Error("ERR_INPUT_UNREADABLE", path + " is empty");
  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  impl->label = path;
  impl->Open(cancel);
  impl->cancelToken = nullptr;
  return std::unique_ptr<VideoSource>(new VideoSource(std::move(impl)));
}

std::unique_ptr<VideoSource> VideoSource::OpenMemory(const uint8_t* data, size_t size, const VideoLimits& limits,
                                                     const CancelToken& cancel) {
  if (size == 0) throw Error("ERR_INPUT_UNREADABLE", "The video buffer is empty");
  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  impl->label = "the video buffer";
  impl->memory = std::make_unique<MemoryReader>(MemoryReader{data, size});
  impl->Open(cancel);
  impl->cancelToken = nullptr;
  return std::unique_ptr<VideoSource>(new VideoSource(std::move(impl)));
}

std::vector<DecodedFrame> VideoSource::Decode(const std::vector<int64_t>& requested, int outW, int outH,
                                              const CancelToken& cancel, DecodeStats* statsOut) {
  Impl& s = *impl_;
  s.ContinueOrStartClock();
  s.cancelToken = &cancel;
  struct Reset {
    Impl& s;
    ~Reset() { s.cancelToken = nullptr; }
  } reset{s};
  if (outW <= 0 || outH <= 0) throw Error("ERR_INVALID_OPTION", "Expected a positive output size");
  std::vector<int64_t> targets(requested);
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  for (int64_t t : targets)
    if (t < 0 || t >= s.info.totalFrames)
      throw Error("ERR_INVALID_OPTION", "Frame index " + std::to_string(t) + " is outside the video's " +
                                            std::to_string(s.info.totalFrames) + " frames");
  DecodeStats stats;
  std::vector<DecodedFrame> out;
  out.reserve(targets.size());
  if (targets.empty()) return out;
  // Declared after `out`: destroyed first, so its worker never writes into freed frames.
  FrameConverter converter(s.label);

  s.Rewind();
  size_t next = 0;          // next target to produce
  int64_t decodedUpTo = -1;  // presentation index of the last frame the decoder handed us
  int64_t sequentialIndex = -1;
  int64_t packetOrdinal = 0;  // video packets read, counted as Index() counts them (no-timestamp mode)
  bool draining = false;

  auto keyBefore = [&](int64_t idx) -> int64_t {
    auto it = std::upper_bound(s.keyIndices.begin(), s.keyIndices.end(), idx);
    return it == s.keyIndices.begin() ? -1 : *(it - 1);
  };
  auto isTarget = [&](int64_t idx) { return std::binary_search(targets.begin() + next, targets.end(), idx); };

  // Seek when a keyframe lies between what the demuxer has read and the next target: decoding from
  // that keyframe is never slower than decoding through the gap.
  int64_t readUpTo = -1;    // presentation index of the furthest packet sent to the decoder
  int64_t seekedTo = -1;    // keyframe of the last seek, until its first packet confirms the landing
  auto seekTo = [&](int64_t key) {
    int err = key <= 0 ? av_seek_frame(s.fmt, s.streamIndex, s.startPts, AVSEEK_FLAG_BACKWARD)
                       : av_seek_frame(s.fmt, s.streamIndex, s.frames[key].pts, AVSEEK_FLAG_BACKWARD);
    if (err < 0) return false;
    avcodec_flush_buffers(s.codec);
    readUpTo = decodedUpTo = key - 1;
    seekedTo = key;
    ++stats.seeks;
    return true;
  };
  auto maybeSeek = [&]() {
    if (!s.haveTimestamps || next >= targets.size()) return;
    int64_t key = keyBefore(targets[next]);
    if (key > readUpTo && key > 0) seekTo(key);
  };

  auto receive = [&]() {
    while (true) {
      int err = avcodec_receive_frame(s.codec, s.frame);
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      if (err < 0) throw Error("ERR_DECODE", "Decoding " + s.label + " failed: " + AvErr(err));
      ++stats.framesDecoded;
      int64_t idx;
      if (s.haveTimestamps) {
        int64_t ts = s.frame->best_effort_timestamp != AV_NOPTS_VALUE ? s.frame->best_effort_timestamp : s.frame->pts;
        idx = ts == AV_NOPTS_VALUE ? decodedUpTo + 1 : s.PresentationIndex(ts);
      } else {
        idx = ++sequentialIndex;
      }
      decodedUpTo = std::max(decodedUpTo, idx);
      // A target the decoder never produced (dropped or corrupt) is served by the next frame after it.
      while (next < targets.size() && targets[next] <= idx) {
        DecodedFrame f;
        f.index = targets[next];
        int64_t pts = s.haveTimestamps ? s.frames[std::min<int64_t>(targets[next], s.info.totalFrames - 1)].pts : 0;
        f.timeSeconds = s.haveTimestamps ? (pts - s.startPts) * av_q2d(s.timeBase) : targets[next] / s.info.fps;
        f.rgb.resize(static_cast<size_t>(outW) * outH * 3);
        converter.Push(s.frame, outW, outH, f.rgb.data());  // the buffer moves with f, its address stays
        out.push_back(std::move(f));
        ++next;
      }
      av_frame_unref(s.frame);
      if (next >= targets.size()) return;
    }
  };

  maybeSeek();
  while (next < targets.size() && !draining) {
    s.CheckBudget(cancel);
    int err = av_read_frame(s.fmt, s.pkt);
    if (err < 0) {
      // End of file, or a truncated file: decode what was read; a target still missing is reported below.
      s.CheckBudget(cancel);
      draining = true;
      avcodec_send_packet(s.codec, nullptr);
      receive();
      break;
    }
    ++stats.packetsRead;
    // Without timestamps frames are counted in packet order: a corrupt packet past the indexed
    // ones is the cut-short tail of a truncated file that Index() dropped; decoding it would only
    // add a damaged frame under the next index.
    if (!s.haveTimestamps && s.pkt->stream_index == s.streamIndex && s.pkt->size > 0 &&
        !(s.pkt->flags & AV_PKT_FLAG_DISCARD) && packetOrdinal++ >= s.info.totalFrames &&
        (s.pkt->flags & AV_PKT_FLAG_CORRUPT)) {
      av_packet_unref(s.pkt);
      continue;
    }
    // An empty packet would read as "drain" to the decoder (and is no frame in the index).
    if (s.pkt->stream_index != s.streamIndex || s.pkt->size <= 0) {
      av_packet_unref(s.pkt);
      continue;
    }
    if (s.haveTimestamps && s.pkt->pts != AV_NOPTS_VALUE) {
      int64_t idx = s.PresentationIndex(s.pkt->pts);
      if ((s.pkt->flags & AV_PKT_FLAG_CORRUPT) && s.frames[idx].pts != s.pkt->pts) {
        // Not an indexed frame (the cut-short tail of a truncated file): decoding it would only
        // yield a frame that maps onto a neighbour's index.
        av_packet_unref(s.pkt);
        continue;
      }
      if (seekedTo >= 0) {
        // Demuxers seek by their own index (often dts); if the landing is past the next target,
        // fall back to the keyframe before, and finally to the start.
        int64_t landed = seekedTo;
        seekedTo = -1;
        if (idx > targets[next] && landed > 0) {
          av_packet_unref(s.pkt);
          seekTo(keyBefore(landed - 1));
          continue;
        }
      }
      readUpTo = std::max(readUpTo, idx);
      // Non-reference frames that are not targets need not be decoded at all.
      bool want = isTarget(idx);
      s.codec->skip_frame = want ? AVDISCARD_DEFAULT : AVDISCARD_NONREF;
      if (!want && !(s.pkt->flags & AV_PKT_FLAG_KEY)) ++stats.framesSkipped;
    }
    err = avcodec_send_packet(s.codec, s.pkt);
    av_packet_unref(s.pkt);
    if (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_INVALIDDATA)
      throw Error("ERR_DECODE", "Decoding " + s.label + " failed: " + AvErr(err));
    size_t before = next;
    receive();
    if (next != before) maybeSeek();
  }
  s.codec->skip_frame = AVDISCARD_DEFAULT;
  converter.Finish();
  if (next < targets.size())
    throw Error("ERR_DECODE", s.label + " ended before frame " + std::to_string(targets[next]) + " of " +
                                  std::to_string(s.info.totalFrames) + " could be decoded; the file is truncated or corrupt");
  if (statsOut) *statsOut = stats;
  return out;
}

int64_t VideoSource::DecodeAll(const CancelToken& cancel) {
  Impl& s = *impl_;
  s.ContinueOrStartClock();
  s.Rewind();
  int64_t n = 0;
  auto drain = [&]() {
    while (avcodec_receive_frame(s.codec, s.frame) == 0) {
      ++n;
      av_frame_unref(s.frame);
    }
  };
  while (true) {
    s.CheckBudget(cancel);
    int err = av_read_frame(s.fmt, s.pkt);
    if (err < 0) break;
    if (s.pkt->stream_index == s.streamIndex) avcodec_send_packet(s.codec, s.pkt);
    av_packet_unref(s.pkt);
    drain();
  }
  avcodec_send_packet(s.codec, nullptr);
  drain();
  return n;
}

LibavVersions GetLibavVersions() {
  return {VersionString(avformat_version()), VersionString(avcodec_version()), VersionString(swscale_version()),
          VersionString(avutil_version())};
}

}  // namespace vs2
