// The frames of one video stream in presentation order, as indexed from its packets: what maps a
// timestamp to a frame index and a target frame to the keyframe decoding must start from.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace vs2 {

struct FrameEntry {
  int64_t pts;
  bool key;
  bool corrupt;  // the demuxer flagged the packet (e.g. a sample cut short by truncation)
};

struct FrameIndex {
  std::vector<FrameEntry> frames;  // presentation order
  std::vector<int64_t> keys;       // presentation indices of keyframes, ascending
  int64_t startPts = 0;
  bool haveTimestamps = true;  // false: presentation index = decode order, no seeking

  int64_t size() const { return static_cast<int64_t>(frames.size()); }

  // The frame presented at `ts`, or the nearest one.
  int64_t PresentationIndex(int64_t ts) const {
    auto it = std::lower_bound(frames.begin(), frames.end(), ts, [](const FrameEntry& e, int64_t v) { return e.pts < v; });
    if (it == frames.end()) return size() - 1;
    if (it != frames.begin() && it->pts != ts && (ts - (it - 1)->pts) < (it->pts - ts)) --it;
    return it - frames.begin();
  }

  // The last keyframe at or before `idx`; -1 when there is none.
  int64_t KeyBefore(int64_t idx) const {
    auto it = std::upper_bound(keys.begin(), keys.end(), idx);
    return it == keys.begin() ? -1 : *(it - 1);
  }
};

}  // namespace vs2
