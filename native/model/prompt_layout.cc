// The prompt's token layout (Engine::Prepare): the chat text around the video tokenized, and every
// token's M-RoPE position as transformers' get_rope_index computes it.
#include "model/engine.h"

#include <algorithm>

#include "llama.h"

namespace vs2 {

int32_t LongestTokenBytes(const llama_vocab* vocab) {
  int32_t longest = 1;
  char buf[512];
  const int32_t n = llama_vocab_n_tokens(vocab);
  for (int32_t t = 0; t < n; ++t) {
    int32_t len = llama_token_to_piece(vocab, t, buf, sizeof buf, 0, true);
    // A negative length is one that did not fit the buffer: the piece is that long.
    longest = std::max(longest, len < 0 ? -len : len);
  }
  return longest;
}

std::vector<int32_t> Engine::Tokenize(const std::string& text, bool parseSpecial) const {
  const auto len = static_cast<int32_t>(text.size());
  int32_t n = -llama_tokenize(vocab_, text.data(), len, nullptr, 0, false, parseSpecial);
  std::vector<int32_t> out(std::max(n, 0));
  if (n > 0) llama_tokenize(vocab_, text.data(), len, out.data(), n, false, parseSpecial);
  return out;
}

PreparedPrompt Engine::Prepare(const ChatText& text, int nframes, int width, int height) const {
  constexpr int kCell = 28;  // patch 14 x spatial merge 2
  if (nframes < 2 || nframes % 2 != 0)
    throw Error("ERR_INVALID_OPTION", "Expected an even number of frames >= 2 but received " + std::to_string(nframes));
  if (width <= 0 || height <= 0 || width % kCell != 0 || height % kCell != 0)
    throw Error("ERR_INVALID_OPTION", "Expected frame sizes that are multiples of 28 but received " +
                                          std::to_string(width) + "x" + std::to_string(height));
  if (static_cast<int64_t>(width / kCell) * (height / kCell) > kMaxFrameTokens)
    throw Error("ERR_VIDEO_LIMITS", "Frames of " + std::to_string(width) + "x" + std::to_string(height) + " are " +
                                        std::to_string((width / kCell) * (height / kCell)) + " tokens each, more than the " +
                                        std::to_string(kMaxFrameTokens) + " the vision encoder takes; lower maxPixels");
  PreparedPrompt p;
  p.gridT = nframes / 2;
  p.gridH = height / kCell;
  p.gridW = width / kCell;
  auto before = Tokenize(text.beforeVideo);
  // Tokenizing the plain part on its own equals tokenizing the whole: with special tokens
  // recognised, llama.cpp splits the text at them and tokenizes the pieces between separately.
  auto after = Tokenize(text.afterVideo);
  for (const auto* part : {&text.userText, &text.afterText}) {
    auto t = Tokenize(*part, part == &text.afterText);
    after.insert(after.end(), t.begin(), t.end());
  }
  int32_t pos = 0;
  // Text tokens sit at one position on all three M-RoPE axes, one after another.
  auto appendText = [&](const std::vector<int32_t>& text) {
    for (int32_t t : text) {
      p.tokens.push_back(t);
      p.posT.push_back(pos);
      p.posH.push_back(pos);
      p.posW.push_back(pos);
      ++pos;
    }
  };
  appendText(before);
  const int32_t s = pos;
  p.videoStart = static_cast<int32_t>(p.tokens.size());
  int32_t maxPos = s - 1;
  for (int32_t g = 0; g < p.gridT; ++g)
    for (int32_t r = 0; r < p.gridH; ++r)
      for (int32_t c = 0; c < p.gridW; ++c) {
        p.tokens.push_back(videoPadToken_);
        // second_per_grid_t (temporal patch 2 / processor fps 2.0 = 1.0) x tokens_per_second (2)
        p.posT.push_back(s + 2 * g);
        p.posH.push_back(s + r);
        p.posW.push_back(s + c);
        maxPos = std::max({maxPos, s + 2 * g, s + r, s + c});
      }
  p.videoEnd = static_cast<int32_t>(p.tokens.size());
  pos = maxPos + 1;
  appendText(after);
  p.nextPos = pos;
  return p;
}

}  // namespace vs2
