#include "video/frame_converter.h"

#include <cstring>

#include "common/error.h"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace vs2 {
namespace {

// Enough to keep the worker fed while bounding the decoder buffers held back from reuse.
constexpr size_t kMaxQueued = 3;

std::string AvErrText(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

}  // namespace

FrameConverter::FrameConverter(std::string label, bool threaded) : label_(std::move(label)), threaded_(threaded) {}

FrameConverter::~FrameConverter() {
  Stop();
  for (Job& j : queue_) av_frame_free(&j.frame);
  sws_freeContext(sws_);
}

void FrameConverter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void FrameConverter::RethrowLocked(std::unique_lock<std::mutex>& lock) {
  if (!error_) return;
  std::exception_ptr e = error_;
  error_ = nullptr;
  lock.unlock();
  std::rethrow_exception(e);
}

void FrameConverter::Push(const AVFrame* src, int outW, int outH, uint8_t* dst, std::function<void()> done) {
  if (outW == 0 && outH == 0) {  // decode only: nothing to convert
    if (done) done();
    return;
  }
  if (!threaded_) {
    ConvertNow(src, outW, outH, dst);
    if (done) done();
    return;
  }
  AVFrame* ref = av_frame_clone(src);
  if (!ref) throw Error("ERR_INTERNAL", "out of memory queueing a frame for conversion");
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return queue_.size() < kMaxQueued || error_; });
  if (error_) {
    av_frame_free(&ref);
    RethrowLocked(lock);
  }
  queue_.push_back({ref, outW, outH, dst, std::move(done)});
  if (!worker_.joinable()) worker_ = std::thread([this] { Run(); });
  lock.unlock();
  changed_.notify_all();
}

void FrameConverter::Finish() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return (queue_.empty() && !busy_) || error_; });
  RethrowLocked(lock);
}

void FrameConverter::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    std::exception_ptr failure;
    try {
      ConvertNow(job.frame, job.outW, job.outH, job.dst);
      if (job.done) job.done();
    } catch (...) {
      failure = std::current_exception();
    }
    av_frame_free(&job.frame);
    lock.lock();
    busy_ = false;
    if (failure && !error_) error_ = failure;
    changed_.notify_all();
  }
}

SwsContext* FrameConverter::ContextFor(const AVFrame* src) {
  // A decoder may change size or colour description mid-stream: the context follows it.
  Key key{src->width, src->height, src->format, src->colorspace, src->color_range};
  if (sws_ && key == key_) return sws_;
  sws_freeContext(sws_);
  // RGB at the decoded size, as decord's filter graph makes it (scale with its default flags, which
  // at an unchanged size is swscale's plain YUV->RGB conversion); the resize is RgbResampler's.
  sws_ = sws_getContext(src->width, src->height, static_cast<AVPixelFormat>(src->format), src->width, src->height,
                        AV_PIX_FMT_RGB24, SWS_BICUBIC, nullptr, nullptr, nullptr);
  if (!sws_) throw Error("ERR_DECODE", "Cannot convert " + label_ + "'s pixel format to RGB");
  int cs = src->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : src->colorspace;
  int srcFull = src->color_range == AVCOL_RANGE_JPEG ? 1 : 0;
  sws_setColorspaceDetails(sws_, sws_getCoefficients(cs), srcFull, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0,
                           1 << 16, 1 << 16);
  key_ = key;
  return sws_;
}

void FrameConverter::ConvertNow(const AVFrame* src, int outW, int outH, uint8_t* dst) {
  SwsContext* c = ContextFor(src);
  // swscale's SIMD YUV->RGB writes whole blocks of pixels, past the end of a row whose width is not
  // a multiple of them: rows get a padded stride and the buffer a padded end.
  constexpr int kPad = 64;
  const int stride = (src->width * 3 + kPad - 1) / kPad * kPad;
  rgb_.resize(static_cast<size_t>(stride) * src->height + kPad);
  uint8_t* planes[4] = {rgb_.data(), nullptr, nullptr, nullptr};
  int strides[4] = {stride, 0, 0, 0};
  int rows = sws_scale(c, src->data, src->linesize, 0, src->height, planes, strides);
  if (rows != src->height)
    throw Error("ERR_DECODE", "Converting a frame of " + label_ + " to RGB failed" +
                                  (rows < 0 ? ": " + AvErrText(rows) : std::string()));
  if (outW == src->width && outH == src->height) {
    for (int y = 0; y < outH; ++y)
      std::memcpy(dst + static_cast<size_t>(y) * outW * 3, rgb_.data() + static_cast<size_t>(y) * stride, static_cast<size_t>(outW) * 3);
    return;
  }
  if (!resampler_ || !resampler_->Fits(src->width, src->height, outW, outH))
    resampler_ = std::make_unique<RgbResampler>(src->width, src->height, outW, outH);
  resampler_->Run(rgb_.data(), stride, dst);
}

}  // namespace vs2
