// Checks that src/gguf's F16 and Q8_0 encoders are bit-identical to ggml's: for every tensor of
// an f32 model, ggml converts the stored floats to the type the other file stored, and the bytes
// must match. Also exercises gguf.cpp's own reader on both files.
//
// Build (from the repo root, after the CPU static build in build/cpu):
//   g++ -std=c++17 -O1 test/native/check_encoding.cc -o /tmp/check_encoding \
//     -Ideps/llama.cpp/ggml/include build/cpu/llama.cpp/ggml/src/libggml-base.a -lpthread -lm
// Run on a pair written with the same seed and name, e.g.
//   /tmp/check_encoding /tmp/tiny/tiny-f32.gguf /tmp/tiny/tiny-q8_0.gguf

#include "ggml.h"
#include "gguf.h"

#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char ** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s f32.gguf other.gguf\n", argv[0]);
        return 2;
    }
    ggml_context * meta_a = nullptr;
    ggml_context * meta_b = nullptr;
    gguf_init_params pa = {/*no_alloc*/ false, &meta_a};
    gguf_init_params pb = {/*no_alloc*/ false, &meta_b};
    gguf_context * a = gguf_init_from_file(argv[1], pa);
    gguf_context * b = gguf_init_from_file(argv[2], pb);
    if (!a || !b) {
        std::fprintf(stderr, "FAIL: gguf_init_from_file\n");
        return 1;
    }
    const int64_t n = gguf_get_n_tensors(b);
    int checked = 0, failed = 0;
    for (int64_t i = 0; i < n; i++) {
        const char * name = gguf_get_tensor_name(b, i);
        ggml_tensor * tb = ggml_get_tensor(meta_b, name);
        ggml_tensor * ta = ggml_get_tensor(meta_a, name);
        if (!ta || ta->type != GGML_TYPE_F32) {
            std::fprintf(stderr, "FAIL: %s missing or not f32 in %s\n", name, argv[1]);
            return 1;
        }
        const int64_t nrows = ggml_nrows(ta);
        const int64_t n_per_row = ta->ne[0];
        std::vector<uint8_t> out(ggml_nbytes(tb));
        if (tb->type == GGML_TYPE_F32) {
            std::memcpy(out.data(), ta->data, out.size());
        } else {
            ggml_quantize_chunk(tb->type, (const float *) ta->data, out.data(), 0, nrows, n_per_row, nullptr);
        }
        const bool same = std::memcmp(out.data(), tb->data, out.size()) == 0;
        checked++;
        if (!same) {
            failed++;
            std::fprintf(stderr, "MISMATCH: %s (%s)\n", name, ggml_type_name(tb->type));
        }
    }
    std::printf("checked %d tensors, %d mismatches\n", checked, failed);
    gguf_free(a);
    gguf_free(b);
    ggml_free(meta_a);
    ggml_free(meta_b);
    return failed == 0 ? 0 : 1;
}
