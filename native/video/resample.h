// Resizes packed RGB24 frames the way the reference does after decoding: torchvision's
// resize(..., BICUBIC, antialias=True) on a uint8 tensor, which runs ATen's antialiased bicubic
// (Pillow's filter, a = -0.5, widened by the scale when shrinking) in float32, then clamps and rounds
// half to even. Plain C++.
#pragma once

#include <cstdint>
#include <vector>

namespace vs2 {

// The taps of one axis: for each output position, the first input position and its weights.
struct ResampleTaps {
  int inSize = 0, outSize = 0, maxTaps = 0;
  std::vector<int> first;      // outSize
  std::vector<int> count;      // outSize
  std::vector<float> weights;  // outSize * maxTaps, normalized per output position

  static ResampleTaps Bicubic(int inSize, int outSize);
};

class RgbResampler {
 public:
  RgbResampler(int inW, int inH, int outW, int outH);
  // `src` inW*inH*3 bytes with rows `srcStride` bytes apart; `dst` outW*outH*3 bytes, packed.
  void Run(const uint8_t* src, int srcStride, uint8_t* dst);

  bool Fits(int inW, int inH, int outW, int outH) const {
    return inW == h_.inSize && inH == v_.inSize && outW == h_.outSize && outH == v_.outSize;
  }

 private:
  ResampleTaps h_, v_;  // across (width) and down (height)
  std::vector<float> column_;  // one output row after the vertical pass, inW*3 wide
  std::vector<float> row_;     // the same after the horizontal pass, outW*3 wide
};

}  // namespace vs2
