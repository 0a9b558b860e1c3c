#include "video/video_source.h"

#include "video/demuxer.h"
#include "video/frame_converter.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <mutex>
#include <sys/stat.h>
#include <system_error>
#include <thread>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/cpu.h>
#include <libswscale/swscale.h>
}

namespace vs2 {
namespace {

std::string VersionString(unsigned v) {
  return std::to_string(AV_VERSION_MAJOR(v)) + "." + std::to_string(AV_VERSION_MINOR(v)) + "." +
         std::to_string(AV_VERSION_MICRO(v));
}

// Ends a parallel decoder's work once another one has failed.
struct Stopped {};

}  // namespace

struct VideoSource::Impl {
  VideoLimits limits;
  std::string label;  // path or "the video buffer" for messages
  std::string path;   // empty for memory input
  const uint8_t* data = nullptr;
  size_t size = 0;
  Interrupt interrupt;
  std::unique_ptr<Demuxer> demuxer;
  std::unique_ptr<StreamDecoder> decoder;  // declared after the demuxer it reads from
  int streamIndex = -1;
  const AVCodecParameters* par = nullptr;  // the demuxer's
  bool streamsKnownAtOpen = true;  // a second demuxer sees the same streams right after opening
  FrameIndex index;
  VideoInfo info;

  // The first decode after Open() shares Open()'s budget (limits.deadlineSeconds covers open +
  // index + decode); a later decode of the same source starts a budget of its own.
  bool clockFromOpen = false;
  void ContinueOrStartClock() {
    if (clockFromOpen) clockFromOpen = false;
    else StartClock();
  }

  void StartClock() {
    if (limits.deadlineSeconds > 0)
      interrupt.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(limits.deadlineSeconds));
  }
  void CheckBudget(const CancelToken& cancel) const {
    cancel.check();
    if (Clock::now() > interrupt.deadline)
      throw Error("ERR_VIDEO_LIMITS", "Decoding " + label + " took longer than the decode deadline of " +
                                          std::to_string(limits.deadlineSeconds) +
                                          " s; raise limits.deadlineSeconds or use a shorter clip");
  }

  std::unique_ptr<Demuxer> OpenDemuxer() { return std::make_unique<Demuxer>(path, data, size, label, &interrupt); }

  void Open(const CancelToken& cancel) {
    StartClock();
    clockFromOpen = true;
    try {
      demuxer = OpenDemuxer();
      demuxer->FindStreamInfo();
    } catch (const Error&) {
      CheckBudget(cancel);  // an abort or the deadline is the reason, not what libav made of it
      throw;
    }
    CheckBudget(cancel);
    AVFormatContext* fmt = demuxer->fmt();
    streamsKnownAtOpen = !(fmt->ctx_flags & AVFMTCTX_NOHEADER);

    // Cover art (an MP3's or M4A's ID3/covr picture) is a video stream to libav, in a codec (PNG,
    // JPEG) this build has no decoder for; it is still not a video, so it is named before the codec.
    bool coverArt = false, moving = false;
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      const AVStream* s = fmt->streams[i];
      if (s->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
      (s->disposition & AV_DISPOSITION_ATTACHED_PIC ? coverArt : moving) = true;
    }
    if (coverArt && !moving)
      throw Error("ERR_NO_VIDEO_STREAM", label + " only has cover art (an attached picture), not a video stream; give it a video");
    const AVCodec* dec = nullptr;
    streamIndex = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
    if (streamIndex == AVERROR_STREAM_NOT_FOUND)
      throw Error("ERR_NO_VIDEO_STREAM", label + " has no video stream (audio-only or data file); give it a video");
    // A still image is named as one whether or not this build can decode its codec (without a
    // decoder, av_find_best_stream reports AVERROR_DECODER_NOT_FOUND instead of the stream).
    const char* fmtName = fmt->iformat ? fmt->iformat->name : "";
    if (std::strstr(fmtName, "image2") || std::strstr(fmtName, "_pipe"))
      throw Error("ERR_NO_VIDEO_STREAM", label + " is a still image (" + std::string(fmtName) +
                                             "), not a video; give it a video file");
    if (streamIndex < 0 || !dec) {
      const AVCodecParameters* p = streamIndex >= 0 ? fmt->streams[streamIndex]->codecpar : nullptr;
      throw Error("ERR_DECODE", label + " has a video stream in a codec this build cannot decode" +
                                    (p ? std::string(" (") + avcodec_get_name(p->codec_id) + ")" : std::string()) +
                                    "; re-encode it to H.264, HEVC, VP9 or MPEG-4");
    }
    AVStream* st = fmt->streams[streamIndex];
    if (st->disposition & AV_DISPOSITION_ATTACHED_PIC)
      throw Error("ERR_NO_VIDEO_STREAM", label + " only has cover art as a video stream it can read; give it a video");
    DiscardOtherStreams(fmt);

    par = st->codecpar;
    if (par->width <= 0 || par->height <= 0)
      throw Error("ERR_DECODE", label + " has a video stream without a frame size");
    if (static_cast<int64_t>(par->width) * par->height > limits.maxPixelsPerFrame)
      throw Error("ERR_VIDEO_LIMITS", label + " has " + std::to_string(par->width) + "x" +
                                          std::to_string(par->height) + " frames, more than limits.maxPixelsPerFrame (" +
                                          std::to_string(limits.maxPixelsPerFrame) + "); raise the limit to accept it");
    info.width = par->width;
    info.height = par->height;
    info.codec = dec->name;
    info.container = fmtName;
    decoder = std::make_unique<StreamDecoder>(*demuxer, streamIndex, par, limits.threads, index, limits.maxPixelsPerFrame);
    Index(cancel);
  }

  void DiscardOtherStreams(AVFormatContext* fmt) const {
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (static_cast<int>(i) != streamIndex) fmt->streams[i]->discard = AVDISCARD_ALL;
  }

  // Counts frames the way frame-accurate readers do: one per video packet, in presentation order.
  void Index(const CancelToken& cancel) {
    AVFormatContext* fmt = demuxer->fmt();
    AVStream* st = fmt->streams[streamIndex];
    std::vector<FrameEntry>& frames = index.frames;
    AVPacket* pkt = av_packet_alloc();
    if (!pkt) throw Error("ERR_INTERNAL", "out of memory allocating a packet");
    struct FreePacket {
      AVPacket*& p;
      ~FreePacket() { av_packet_free(&p); }
    } freePacket{pkt};
    int64_t n = 0;
    while (true) {
      if ((n & 255) == 0) CheckBudget(cancel);
      int err = av_read_frame(fmt, pkt);
      if (err == AVERROR_EOF) break;
      if (err < 0) {
        CheckBudget(cancel);
        // A truncated file ends with a read error after some packets: index what is there.
        if (!frames.empty()) break;
        throw Error("ERR_DECODE", "Cannot read packets of " + label + ": " + AvErrorText(err));
      }
      if (pkt->stream_index == streamIndex && !(pkt->flags & AV_PKT_FLAG_DISCARD) && pkt->size > 0) {
        // Without a pts on every packet, timestamps do not give presentation order: AVI and raw
        // streams carry decode-order dts only, which with B-frames labels each output frame with
        // the wrong index. Then frames are counted as the decoder outputs them, without seeking.
        int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (pkt->pts == AV_NOPTS_VALUE) index.haveTimestamps = false;
        frames.push_back({ts, (pkt->flags & AV_PKT_FLAG_KEY) != 0, (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0});
        if (++n > limits.maxFrames)
          throw Error("ERR_VIDEO_LIMITS", label + " has more than limits.maxFrames (" +
                                              std::to_string(limits.maxFrames) + ") frames; raise the limit or trim the video");
      }
      av_packet_unref(pkt);
    }
    // A truncated file ends with the part of a sample that was written (flagged corrupt by the
    // demuxer): it cannot be decoded into a frame, so it is not one. Decoding skips it too.
    while (!frames.empty() && frames.back().corrupt) frames.pop_back();
    if (index.haveTimestamps) {
      std::stable_sort(frames.begin(), frames.end(), [](const FrameEntry& a, const FrameEntry& b) { return a.pts < b.pts; });
      // Two packets with one pts cannot both be presented; readers that index by pts see one frame.
      frames.erase(std::unique(frames.begin(), frames.end(),
                               [](const FrameEntry& a, const FrameEntry& b) { return a.pts == b.pts; }),
                   frames.end());
    }
    for (size_t i = 0; i < frames.size(); ++i)
      if (frames[i].key) index.keys.push_back(static_cast<int64_t>(i));
    info.totalFrames = index.size();
    index.startPts = index.haveTimestamps && !frames.empty() ? frames.front().pts : 0;

    AVRational rate = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate : st->r_frame_rate;
    double duration = 0;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) duration = st->duration * av_q2d(st->time_base);
    else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) duration = fmt->duration / double(AV_TIME_BASE);
    info.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : (duration > 0 ? info.totalFrames / duration : 0);
    if (!(info.fps > 0) || info.fps > 100000) info.fps = duration > 0 ? info.totalFrames / duration : 0;
    if (duration <= 0 && info.fps > 0) duration = info.totalFrames / info.fps;
    info.durationSeconds = duration;
    if (info.totalFrames == 0) throw Error("ERR_DECODE", label + " has a video stream with no frames in it");
    if (!(info.fps > 0)) throw Error("ERR_DECODE", label + " has no usable frame rate or duration");
    decoder->Rewind();
  }

  // Splits ascending targets into runs [begin, end) such that each run after the first starts past
  // a keyframe that lies after the previous target: decoding a run from that keyframe needs nothing
  // from the runs before it, so runs can go to decoders of their own.
  std::vector<std::pair<size_t, size_t>> RunsFromKeyframes(const std::vector<int64_t>& targets) const {
    std::vector<std::pair<size_t, size_t>> runs;
    size_t begin = 0;
    for (size_t i = 1; i < targets.size(); ++i) {
      int64_t key = index.KeyBefore(targets[i]);
      if (key > targets[i - 1] && key > 0) {
        runs.emplace_back(begin, i);
        begin = i;
      }
    }
    runs.emplace_back(begin, targets.size());
    return runs;
  }

  // Frame threads for each parallel decoder. Runs of about equal length keep every decoder busy with
  // one thread each (frame threads wait on each other after every seek); when one run is most of
  // the work (a long GOP), its decoder would finish alone on one core, so it gets frame threads in
  // proportion to its share.
  int ThreadsPerDecoder(const std::vector<int64_t>& targets, const std::vector<std::pair<size_t, size_t>>& runs,
                        int budget) const {
    int64_t total = 0, longest = 0;
    for (const auto& [begin, end] : runs) {
      int64_t frames = targets[end - 1] - std::max<int64_t>(0, index.KeyBefore(targets[begin])) + 1;
      total += frames;
      longest = std::max(longest, frames);
    }
    int threads = static_cast<int>(std::lround(static_cast<double>(budget) * longest / std::max<int64_t>(1, total)));
    return std::clamp(threads, 1, budget);
  }

  // Decodes the runs on `workers` decoders at once: this one's demuxer and a fresh one per other
  // worker, each taking the next run not yet taken. With one libavcodec thread per decoder every
  // core decodes, where frame threads wait on each other after every seek.
  void DecodeInParallel(const std::vector<int64_t>& targets, const std::vector<std::pair<size_t, size_t>>& runs,
                        size_t workers, int threadsEach, int outW, int outH, std::vector<DecodedFrame>& out,
                        DecodeStats& stats, const CancelToken& cancel, const std::function<void(size_t)>& ready) {
    std::atomic<size_t> nextRun{0};
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::exception_ptr error;
    auto work = [&](bool primary) {
      DecodeStats mine;
      try {
        std::unique_ptr<Demuxer> own;
        Demuxer* source = demuxer.get();
        if (!primary) {
          // A second demuxer that cannot be opened only means fewer decoders: the others take its runs.
          try {
            own = OpenDemuxer();
          } catch (const Error&) {
            return;
          }
          AVFormatContext* fmt = own->fmt();
          if (static_cast<int>(fmt->nb_streams) <= streamIndex || fmt->streams[streamIndex]->codecpar->codec_id != par->codec_id)
            return;
          DiscardOtherStreams(fmt);
          source = own.get();
        }
        StreamDecoder dec(*source, streamIndex, par, threadsEach, index, limits.maxPixelsPerFrame);
        FrameConverter converter(label, threadsEach > 1);
        mine.decoders = 1;
        auto check = [&] {
          if (stop.load(std::memory_order_relaxed)) throw Stopped{};
          CheckBudget(cancel);
        };
        for (size_t r; (r = nextRun.fetch_add(1)) < runs.size();) {
          size_t first = runs[r].first;
          dec.Run(targets.data() + first, runs[r].second - first,
                  [&](size_t i, const AVFrame* f) {
                    converter.Push(f, outW, outH, out[first + i].rgb.data(), [&ready, first, i] { ready(first + i); });
                  },
                  check, mine);
        }
        converter.Finish();
      } catch (const Stopped&) {
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        stop = true;
      }
      std::lock_guard<std::mutex> lock(mutex);
      stats += mine;
    };
    std::vector<std::thread> pool;
    for (size_t w = 1; w < workers; ++w) {
      try {
        pool.emplace_back(work, false);
      } catch (const std::system_error&) {
        break;  // no thread to be had: fewer decoders
      }
    }
    work(true);
    for (std::thread& t : pool) t.join();
    if (error) std::rethrow_exception(error);
  }
};

VideoSource::VideoSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoSource::~VideoSource() = default;
const VideoInfo& VideoSource::info() const { return impl_->info; }

std::unique_ptr<VideoSource> VideoSource::OpenFile(const std::string& path, const VideoLimits& limits,
                                                   const CancelToken& cancel) {
  if (path.empty()) throw Error("ERR_INPUT_NOT_FOUND", "The video path is empty; give a video file");
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
  impl->path = path;
  impl->Open(cancel);
  impl->interrupt.cancel = nullptr;
  return std::unique_ptr<VideoSource>(new VideoSource(std::move(impl)));
}

std::unique_ptr<VideoSource> VideoSource::OpenMemory(const uint8_t* data, size_t size, const VideoLimits& limits,
                                                     const CancelToken& cancel) {
  if (size == 0) throw Error("ERR_INPUT_UNREADABLE", "The video buffer is empty");
  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  impl->label = "the video buffer";
  impl->data = data;
  impl->size = size;
  impl->Open(cancel);
  impl->interrupt.cancel = nullptr;
  return std::unique_ptr<VideoSource>(new VideoSource(std::move(impl)));
}

std::vector<DecodedFrame> VideoSource::Decode(const std::vector<int64_t>& requested, int outW, int outH,
                                              const CancelToken& cancel, DecodeStats* statsOut) {
  std::vector<int64_t> targets(requested);
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  std::vector<DecodedFrame> out(targets.size());
  DecodeInto(targets, outW, outH, out, cancel, statsOut, {});
  return out;
}

void VideoSource::DecodeInto(const std::vector<int64_t>& targets, int outW, int outH, std::vector<DecodedFrame>& out,
                             const CancelToken& cancel, DecodeStats* statsOut,
                             const std::function<void(size_t)>& onReady) {
  Impl& s = *impl_;
  s.ContinueOrStartClock();
  s.interrupt.cancel = &cancel;
  struct Reset {
    Impl& s;
    ~Reset() { s.interrupt.cancel = nullptr; }
  } reset{s};
  // 0 x 0: decode only, convert nothing (the floor the benchmark measures: same decoders, seeks, skips).
  if (outW < 0 || outH < 0 || (outW == 0) != (outH == 0) || (outW == 0 && onReady))
    throw Error("ERR_INVALID_OPTION", "Expected a positive output size");
  if (out.size() != targets.size() || !std::is_sorted(targets.begin(), targets.end()) ||
      std::adjacent_find(targets.begin(), targets.end()) != targets.end())
    throw Error("ERR_INTERNAL", "DecodeInto expects ascending distinct targets and one output slot each");
  for (int64_t t : targets)
    if (t < 0 || t >= s.info.totalFrames)
      throw Error("ERR_INVALID_OPTION", "Frame index " + std::to_string(t) + " is outside the video's " +
                                            std::to_string(s.info.totalFrames) + " frames");
  DecodeStats stats;
  if (targets.empty()) {
    if (statsOut) *statsOut = stats;
    return;
  }
  const double secondsPerTick = av_q2d(s.demuxer->fmt()->streams[s.streamIndex]->time_base);
  for (size_t i = 0; i < targets.size(); ++i) {
    DecodedFrame& f = out[i];
    f.index = targets[i];
    f.timeSeconds = s.index.haveTimestamps ? (s.index.frames[targets[i]].pts - s.index.startPts) * secondsPerTick
                                           : targets[i] / s.info.fps;
    f.rgb.resize(static_cast<size_t>(outW) * outH * 3);
  }
  std::function<void(size_t)> ready = onReady ? onReady : [](size_t) {};

  std::vector<std::pair<size_t, size_t>> runs = s.RunsFromKeyframes(targets);
  int budget = s.limits.threads > 0 ? s.limits.threads : std::max(1, av_cpu_count());
  size_t workers = s.index.haveTimestamps && s.streamsKnownAtOpen ? std::min<size_t>(budget, runs.size()) : 1;
  if (workers > 1) {
    s.DecodeInParallel(targets, runs, workers, s.ThreadsPerDecoder(targets, runs, budget), outW, outH, out, stats,
                       cancel, ready);
  } else {
    FrameConverter converter(s.label);  // destroyed before the caller's `out`: never writes into freed frames
    s.decoder->Run(targets.data(), targets.size(),
                   [&](size_t i, const AVFrame* f) { converter.Push(f, outW, outH, out[i].rgb.data(), [&ready, i] { ready(i); }); },
                   [&] { s.CheckBudget(cancel); }, stats);
    converter.Finish();
    stats.decoders = 1;
  }
  if (statsOut) *statsOut = stats;
}

int64_t VideoSource::DecodeAll(const CancelToken& cancel) {
  Impl& s = *impl_;
  s.ContinueOrStartClock();
  return s.decoder->DecodeAll([&] { s.CheckBudget(cancel); });
}

LibavVersions GetLibavVersions() {
  return {VersionString(avformat_version()), VersionString(avcodec_version()), VersionString(swscale_version()),
          VersionString(avutil_version())};
}

}  // namespace vs2
