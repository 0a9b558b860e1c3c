// What this addon was built from, for versions().
#pragma once

#include <string>

namespace vs2 {

// The llama.cpp commit of the source tree ("" when it was not a git checkout).
std::string LlamaCommit();
std::string GgmlVersion();
bool CudaCompiled();

}  // namespace vs2
