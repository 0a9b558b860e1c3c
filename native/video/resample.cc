#include "video/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vs2 {
namespace {

// Pillow's bicubic (a = -0.5) as ATen's HelperInterpCubic::aa_filter evaluates it, in float.
float CubicWeight(float x) {
  constexpr float a = -0.5f;
  x = std::fabs(x);
  if (x < 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
  if (x < 2.0f) return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
  return 0.0f;
}

typedef float Float4 __attribute__((vector_size(16)));

Float4 Load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Clamped to 0..255 and rounded half to even, as torch.round: adding 2^23 rounds a float in that
// range by the FPU's default mode (nearest, ties to even) and leaves the integer in the low mantissa
// bits, with no libm call (nearbyintf was a tenth of the resize).
uint8_t ToByte(float v) {
  const float shifted = (v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f) + 8388608.0f;
  uint32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return static_cast<uint8_t>(bits);
}

// Four at a time, the same arithmetic lane by lane, without branches.
void ToBytes4(const float* v, uint8_t* out) {
  typedef uint32_t Uint4 __attribute__((vector_size(16)));
  const Float4 zero = {0, 0, 0, 0}, top = {255, 255, 255, 255}, shift = {8388608.0f, 8388608.0f, 8388608.0f, 8388608.0f};
  Float4 x = Load4(v);
  x = x > zero ? x : zero;
  x = x < top ? x : top;
  x += shift;
  Uint4 bits;
  std::memcpy(&bits, &x, sizeof bits);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(bits[i]);
}

}  // namespace

ResampleTaps ResampleTaps::Bicubic(int inSize, int outSize) {
  // ATen's _compute_indices_min_size_weights_aa (align_corners = false) for float, with its mixed
  // float/double arithmetic kept term by term: the weights, and so the rounded pixels, depend on it.
  ResampleTaps t;
  t.inSize = inSize;
  t.outSize = outSize;
  const float scale = static_cast<float>(inSize) / static_cast<float>(outSize);
  const float support = scale >= 1.0f ? static_cast<float>(4 * 0.5 * static_cast<double>(scale)) : 2.0f;
  const float invscale = scale >= 1.0f ? static_cast<float>(1.0 / static_cast<double>(scale)) : 1.0f;
  t.maxTaps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(outSize);
  t.count.resize(outSize);
  t.weights.assign(static_cast<size_t>(outSize) * t.maxTaps, 0.0f);
  for (int i = 0; i < outSize; ++i) {
    const float center = static_cast<float>(static_cast<double>(scale) * (i + 0.5));
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(static_cast<double>(center - support) + 0.5), 0);
    int64_t n = std::min<int64_t>(static_cast<int64_t>(static_cast<double>(center + support) + 0.5), inSize) - lo;
    n = std::clamp<int64_t>(n, 0, t.maxTaps);
    float* w = &t.weights[static_cast<size_t>(i) * t.maxTaps];
    float total = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      const float d = static_cast<float>(j + lo) - center;
      w[j] = CubicWeight(static_cast<float>((static_cast<double>(d) + 0.5) * static_cast<double>(invscale)));
      total += w[j];
    }
    if (total != 0.0f)
      for (int64_t j = 0; j < n; ++j) w[j] /= total;
    t.first[i] = static_cast<int>(lo);
    t.count[i] = static_cast<int>(n);
  }
  return t;
}

RgbResampler::RgbResampler(int inW, int inH, int outW, int outH)
    : h_(ResampleTaps::Bicubic(inW, outW)), v_(ResampleTaps::Bicubic(inH, outH)) {
  column_.resize(static_cast<size_t>(inW) * 3 + 1);  // + 1: the fourth lane of the last pixel
  row_.resize(static_cast<size_t>(outW) * 3 + 1);
}

void RgbResampler::Run(const uint8_t* src, int srcStride, uint8_t* dst) {
  // Row by row, vertical then horizontal, so that everything a row needs stays in cache: the
  // vertical sums run over whole rows (they vectorize), the horizontal ones over 3 channels.
  const int rowIn = h_.inSize * 3;
  float* col = column_.data();
  for (int y = 0; y < v_.outSize; ++y) {
    const float* wv = &v_.weights[static_cast<size_t>(y) * v_.maxTaps];
    const uint8_t* in0 = src + static_cast<size_t>(v_.first[y]) * srcStride;
    for (int k = 0; k < rowIn; ++k) col[k] = wv[0] * static_cast<float>(in0[k]);
    for (int j = 1; j < v_.count[y]; ++j) {
      const uint8_t* in = src + static_cast<size_t>(v_.first[y] + j) * srcStride;
      const float wj = wv[j];
      for (int k = 0; k < rowIn; ++k) col[k] += wj * static_cast<float>(in[k]);
    }
    const int* first = h_.first.data();
    const int* count = h_.count.data();
    const float* weights = h_.weights.data();
    const int maxTaps = h_.maxTaps, outW = h_.outSize;
    float* row = row_.data();
    for (int x = 0; x < outW; ++x) {
      // One pixel's three channels in the first three lanes of a 4-float vector (the fourth reads
      // the next pixel, or the padding, and is overwritten by the next pixel's store): the same
      // products and sums per lane as three scalar accumulators, a third of the instructions.
      const float* w = weights + static_cast<size_t>(x) * maxTaps;
      const float* p = col + static_cast<size_t>(first[x]) * 3;
      Float4 acc = Load4(p) * w[0];
      for (int j = 1, n = count[x]; j < n; ++j) acc += Load4(p + 3 * j) * w[j];
      std::memcpy(row + 3 * x, &acc, sizeof acc);
    }
    uint8_t* out = dst + static_cast<size_t>(y) * outW * 3;
    const int n = outW * 3;
    int k = 0;
    for (; k + 4 <= n; k += 4) ToBytes4(row + k, out + k);
    for (; k < n; ++k) out[k] = ToByte(row[k]);
  }
}

}  // namespace vs2
