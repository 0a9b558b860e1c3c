#include "video/stream_decoder.h"

#include <algorithm>

#include "common/error.h"
#include "video/demuxer.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace vs2 {

StreamDecoder::StreamDecoder(Demuxer& demuxer, int streamIndex, const AVCodecParameters* par, int threads,
                             const FrameIndex& index, int64_t maxPixels)
    : demuxer_(demuxer), streamIndex_(streamIndex), index_(index), maxPixels_(maxPixels) {
  const AVCodec* dec = avcodec_find_decoder(par->codec_id);
  if (!dec) throw Error("ERR_DECODE", demuxer.label() + " has a video stream in a codec this build of libavcodec cannot decode");
  codec_ = avcodec_alloc_context3(dec);
  pkt_ = av_packet_alloc();
  frame_ = av_frame_alloc();
  if (!codec_ || !pkt_ || !frame_) {
    Free();
    throw Error("ERR_INTERNAL", "out of memory allocating a decoder");
  }
  avcodec_parameters_to_context(codec_, par);
  codec_->pkt_timebase = demuxer.fmt()->streams[streamIndex]->time_base;
  codec_->thread_count = threads;
  codec_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  int err = avcodec_open2(codec_, dec, nullptr);
  if (err < 0) {
    Free();
    throw Error("ERR_DECODE", std::string("Cannot open the ") + dec->name + " decoder for " + demuxer.label() + ": " +
                                  AvErrorText(err));
  }
}

StreamDecoder::~StreamDecoder() { Free(); }

void StreamDecoder::Free() {
  av_frame_free(&frame_);
  av_packet_free(&pkt_);
  avcodec_free_context(&codec_);
}

void StreamDecoder::CheckFrameSize() const {
  if (static_cast<int64_t>(frame_->width) * frame_->height > maxPixels_)
    throw Error("ERR_VIDEO_LIMITS", demuxer_.label() + " has a " + std::to_string(frame_->width) + "x" +
                                        std::to_string(frame_->height) + " frame, more than limits.maxPixelsPerFrame (" +
                                        std::to_string(maxPixels_) + "); raise the limit to accept it");
}

void StreamDecoder::Rewind() {
  AVFormatContext* fmt = demuxer_.fmt();
  int err = av_seek_frame(fmt, streamIndex_, index_.haveTimestamps ? index_.startPts : 0, AVSEEK_FLAG_BACKWARD);
  if (err < 0) err = avformat_seek_file(fmt, streamIndex_, INT64_MIN, 0, INT64_MAX, 0);
  if (err < 0) throw Error("ERR_DECODE", "Cannot rewind " + demuxer_.label() + ": " + AvErrorText(err));
  avcodec_flush_buffers(codec_);
}

void StreamDecoder::Run(const int64_t* targets, size_t n, const std::function<void(size_t, const AVFrame*)>& emit,
                        const std::function<void()>& check, DecodeStats& stats) {
  if (n == 0) return;
  AVFormatContext* fmt = demuxer_.fmt();
  const std::string& label = demuxer_.label();
  const FrameIndex& ix = index_;
  Rewind();
  size_t next = 0;           // next target to produce
  int64_t decodedUpTo = -1;  // presentation index of the last frame the decoder handed us
  int64_t sequentialIndex = -1;
  int64_t packetOrdinal = 0;  // video packets read, counted as the index counts them (no-timestamp mode)

  auto isTarget = [&](int64_t idx) { return std::binary_search(targets + next, targets + n, idx); };

  // Seek when a keyframe lies between what the demuxer has read and the next target: decoding from
  // that keyframe is never slower than decoding through the gap.
  int64_t readUpTo = -1;  // presentation index of the furthest packet sent to the decoder
  int64_t seekedTo = -1;  // keyframe of the last seek, until its first packet confirms the landing
  int64_t seekGoal = -1;  // the keyframe decoding must start at or before
  auto seekTo = [&](int64_t key, int64_t goal) {
    int err = key <= 0 ? av_seek_frame(fmt, streamIndex_, ix.startPts, AVSEEK_FLAG_BACKWARD)
                       : av_seek_frame(fmt, streamIndex_, ix.frames[key].pts, AVSEEK_FLAG_BACKWARD);
    if (err < 0) return false;
    avcodec_flush_buffers(codec_);
    readUpTo = decodedUpTo = key - 1;
    seekedTo = std::max<int64_t>(key, 0);
    seekGoal = goal;
    ++stats.seeks;
    return true;
  };
  auto maybeSeek = [&]() {
    if (!ix.haveTimestamps || next >= n) return;
    int64_t key = ix.KeyBefore(targets[next]);
    if (key > readUpTo && key > 0) seekTo(key, key);
  };

  auto receive = [&]() {
    while (true) {
      int err = avcodec_receive_frame(codec_, frame_);
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      if (err < 0) throw Error("ERR_DECODE", "Decoding " + label + " failed: " + AvErrorText(err));
      ++stats.framesDecoded;
      CheckFrameSize();
      int64_t idx;
      if (ix.haveTimestamps) {
        int64_t ts = frame_->best_effort_timestamp != AV_NOPTS_VALUE ? frame_->best_effort_timestamp : frame_->pts;
        idx = ts == AV_NOPTS_VALUE ? decodedUpTo + 1 : ix.PresentationIndex(ts);
      } else {
        idx = ++sequentialIndex;
      }
      decodedUpTo = std::max(decodedUpTo, idx);
      while (next < n && targets[next] <= idx) emit(next++, frame_);
      av_frame_unref(frame_);
      if (next >= n) return;
    }
  };

  struct ResetSkip {
    AVCodecContext* c;
    ~ResetSkip() { c->skip_frame = AVDISCARD_DEFAULT; }
  } resetSkip{codec_};
  seekedTo = seekGoal = 0;  // the rewind is a seek too: check where it landed
  maybeSeek();
  while (next < n) {
    check();
    int err = av_read_frame(fmt, pkt_);
    if (err < 0 && seekedTo > 0) {
      // The seek found nothing to read: FLV's seek to its last packet (a keyframe) lands at the
      // end. Go back a keyframe, as when a seek lands past its keyframe; each retry starts earlier.
      const int64_t sought = seekedTo;
      seekedTo = -1;
      if (seekTo(ix.KeyBefore(sought - 1), seekGoal)) continue;
    }
    if (err < 0) {
      // End of file, or a truncated file: decode what was read; a target still missing is reported below.
      check();
      avcodec_send_packet(codec_, nullptr);
      receive();
      break;
    }
    ++stats.packetsRead;
    // Without timestamps frames are counted in packet order: a corrupt packet past the indexed
    // ones is the cut-short tail of a truncated file that the index dropped; decoding it would
    // only add a damaged frame under the next index.
    if (!ix.haveTimestamps && pkt_->stream_index == streamIndex_ && pkt_->size > 0 &&
        !(pkt_->flags & AV_PKT_FLAG_DISCARD) && packetOrdinal++ >= ix.size() && (pkt_->flags & AV_PKT_FLAG_CORRUPT)) {
      av_packet_unref(pkt_);
      continue;
    }
    // An empty packet would read as "drain" to the decoder (and is no frame in the index).
    if (pkt_->stream_index != streamIndex_ || pkt_->size <= 0) {
      av_packet_unref(pkt_);
      continue;
    }
    if (ix.haveTimestamps && pkt_->pts != AV_NOPTS_VALUE) {
      int64_t idx = ix.PresentationIndex(pkt_->pts);
      if ((pkt_->flags & AV_PKT_FLAG_CORRUPT) && ix.frames[idx].pts != pkt_->pts) {
        // Not an indexed frame (the cut-short tail of a truncated file): decoding it would only
        // yield a frame that maps onto a neighbour's index.
        av_packet_unref(pkt_);
        continue;
      }
      if (seekedTo >= 0) {
        // Demuxers seek by their own index (often dts), and those without one (MPEG-TS) by a
        // timestamp search that lands near the keyframe rather than on it. Landing past the
        // keyframe leaves frames that cannot be decoded until the next one, so seek to the keyframe
        // before (landing early only costs decoding), and finally to the start.
        int64_t sought = seekedTo;
        seekedTo = -1;
        if (idx > seekGoal) {
          av_packet_unref(pkt_);
          if (sought > 0) {
            seekTo(ix.KeyBefore(sought - 1), seekGoal);
          } else if (av_seek_frame(fmt, -1, 0, AVSEEK_FLAG_BYTE) >= 0) {
            // Even the start was missed: back to the first byte, where such containers begin.
            avcodec_flush_buffers(codec_);
            readUpTo = decodedUpTo = -1;
            ++stats.seeks;
          }
          continue;
        }
      }
      readUpTo = std::max(readUpTo, idx);
      // Non-reference frames that are not targets need not be decoded at all.
      bool want = isTarget(idx);
      codec_->skip_frame = want ? AVDISCARD_DEFAULT : AVDISCARD_NONREF;
      if (!want && !(pkt_->flags & AV_PKT_FLAG_KEY)) ++stats.framesSkipped;
    }
    err = avcodec_send_packet(codec_, pkt_);
    av_packet_unref(pkt_);
    if (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_INVALIDDATA)
      throw Error("ERR_DECODE", "Decoding " + label + " failed: " + AvErrorText(err));
    size_t before = next;
    receive();
    if (next != before) maybeSeek();
  }
  if (next < n)
    throw Error("ERR_DECODE", label + " ended before frame " + std::to_string(targets[next]) + " of " +
                                  std::to_string(ix.size()) + " could be decoded; the file is truncated or corrupt");
}

int64_t StreamDecoder::DecodeAll(const std::function<void()>& check) {
  Rewind();
  int64_t n = 0;
  auto drain = [&]() {
    while (avcodec_receive_frame(codec_, frame_) == 0) {
      CheckFrameSize();
      ++n;
      av_frame_unref(frame_);
    }
  };
  while (true) {
    check();
    int err = av_read_frame(demuxer_.fmt(), pkt_);
    if (err < 0) break;
    if (pkt_->stream_index == streamIndex_) avcodec_send_packet(codec_, pkt_);
    av_packet_unref(pkt_);
    drain();
  }
  avcodec_send_packet(codec_, nullptr);
  drain();
  return n;
}

}  // namespace vs2
