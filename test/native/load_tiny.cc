// Smoke check: llama.cpp + mtmd load the random-weight Qwen2.5-VL pair written by
// src/gguf/tiny-model.ts and run text decoding and an image (2-frame) encode on it.
//
// Build (from the repo root, after the CPU static build in build/cpu):
//   g++ -std=c++17 -O1 test/native/load_tiny.cc -o /tmp/load_tiny \
//     -Ideps/llama.cpp/include -Ideps/llama.cpp/ggml/include -Ideps/llama.cpp/tools/mtmd \
//     build/cpu/llama.cpp/tools/mtmd/libmtmd.a build/cpu/llama.cpp/src/libllama.a \
//     build/cpu/llama.cpp/ggml/src/libggml.a build/cpu/llama.cpp/ggml/src/libggml-cpu.a \
//     build/cpu/llama.cpp/ggml/src/libggml-base.a build/cpu/llama.cpp/vendor/hash/libvendor-hash.a \
//     -lpthread -ldl
// Generate the models and run:
//   npx tsx -e 'import("./src/gguf/tiny-model.ts").then(m => m.writeQwen25VLModels({ dir: "/tmp/tiny" }))'
//   /tmp/load_tiny /tmp/tiny/tiny-qwen2.5-vl.gguf /tmp/tiny/mmproj-tiny-qwen2.5-vl.gguf [--warmup]
// Exit status 0 means every step succeeded; the printed token ids can be compared with
// tokenize() from src/gguf/tokenizer.ts.

#include "llama.h"
#include "mtmd.h"
#include "mtmd-helper.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

static int fail(const char * what) {
    std::fprintf(stderr, "FAIL: %s\n", what);
    return 1;
}

static int argmax(const float * v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (v[i] > v[best]) best = i;
    }
    return best;
}

static bool all_finite(const float * v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!std::isfinite(v[i])) return false;
    }
    return true;
}

int main(int argc, char ** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s model.gguf mmproj.gguf [--warmup]\n", argv[0]);
        return 2;
    }
    const bool warmup = argc > 3 && std::strcmp(argv[3], "--warmup") == 0;

    llama_backend_init();

    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(argv[1], mparams);
    if (!model) return fail("llama_model_load_from_file");

    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    const int n_embd = llama_model_n_embd(model);
    std::printf("model: n_vocab=%d n_embd=%d n_embd_inp=%d bos=%d eos=%d eot=%d pad=%d add_bos=%d\n", n_vocab, n_embd,
                llama_model_n_embd_inp(model), llama_vocab_bos(vocab), llama_vocab_eos(vocab), llama_vocab_eot(vocab),
                llama_vocab_pad(vocab), (int) llama_vocab_get_add_bos(vocab));

    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = 512;
    cparams.n_batch = 512;
    cparams.n_threads = 2;
    cparams.n_threads_batch = 2;
    llama_context * ctx = llama_init_from_model(model, cparams);
    if (!ctx) return fail("llama_init_from_model");

    // --- text ---
    const std::string prompt = "<|im_start|>user\nhello 12345<|im_end|>";
    std::vector<llama_token> toks(64);
    const int n_tok = llama_tokenize(vocab, prompt.c_str(), (int) prompt.size(), toks.data(), (int) toks.size(),
                                     /*add_special*/ true, /*parse_special*/ true);
    if (n_tok < 0) return fail("llama_tokenize");
    toks.resize(n_tok);
    std::printf("tokens (%d):", n_tok);
    for (llama_token t : toks) std::printf(" %d", t);
    std::printf("\npieces:");
    for (llama_token t : toks) {
        char buf[64];
        const int n = llama_token_to_piece(vocab, t, buf, sizeof(buf), 0, true);
        std::printf(" [%.*s]", n > 0 ? n : 0, buf);
    }
    std::printf("\n");
    const llama_token im_end = toks.back();
    std::printf("eog: im_end(%d)=%d endoftext(%d)=%d 'h'=%d\n", im_end, (int) llama_vocab_is_eog(vocab, im_end),
                llama_vocab_bos(vocab), (int) llama_vocab_is_eog(vocab, llama_vocab_bos(vocab)),
                (int) llama_vocab_is_eog(vocab, toks[3]));

    if (llama_decode(ctx, llama_batch_get_one(toks.data(), (int) toks.size())) != 0) return fail("llama_decode (text)");
    const float * logits = llama_get_logits_ith(ctx, -1);
    if (!logits || !all_finite(logits, n_vocab)) return fail("text logits not finite");
    const int am = argmax(logits, n_vocab);
    std::printf("text argmax=%d logit=%.6f logits[0..3]=%.6f %.6f %.6f\n", am, logits[am], logits[0], logits[1], logits[2]);

    // --- vision ---
    mtmd_context_params vparams = mtmd_context_params_default();
    vparams.use_gpu = false;
    vparams.n_threads = 2;
    vparams.print_timings = false;
    vparams.warmup = warmup;
    mtmd_context * mctx = mtmd_init_from_file(argv[2], model, vparams);
    if (!mctx) return fail("mtmd_init_from_file");
    std::printf("mtmd: vision=%d mrope=%d marker=%s\n", (int) mtmd_support_vision(mctx), (int) mtmd_decode_use_mrope(mctx),
                mtmd_default_marker());

    const int W = 56, H = 56;
    std::vector<unsigned char> px0(W * H * 3), px1(W * H * 3);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            unsigned char * a = &px0[(y * W + x) * 3];
            unsigned char * b = &px1[(y * W + x) * 3];
            a[0] = (unsigned char) (x * 4); a[1] = (unsigned char) (y * 4); a[2] = 128;
            b[0] = (unsigned char) (255 - x * 4); b[1] = (unsigned char) (y * 4); b[2] = 64;
        }
    }
    mtmd_bitmap * bm0 = mtmd_bitmap_init(W, H, px0.data());
    mtmd_bitmap * bm1 = mtmd_bitmap_init(W, H, px1.data());
    mtmd_bitmap_set_mergeable(bm0, true);
    mtmd_bitmap_set_mergeable(bm1, true);

    const std::string marker = mtmd_default_marker();
    const std::string vprompt = "<|im_start|>user\n" + marker + marker + "describe<|im_end|>\n<|im_start|>assistant\n";
    mtmd_input_text itext = {vprompt.c_str(), vprompt.size(), /*add_special*/ true, /*parse_special*/ true};
    const mtmd_bitmap * bms[2] = {bm0, bm1};
    mtmd_input_chunks * chunks = mtmd_input_chunks_init();
    const int32_t rt = mtmd_tokenize(mctx, chunks, &itext, bms, 2);
    if (rt != 0) return fail("mtmd_tokenize");

    const size_t n_chunks = mtmd_input_chunks_size(chunks);
    std::printf("chunks: %zu\n", n_chunks);
    int n_image_chunks = 0;
    for (size_t i = 0; i < n_chunks; i++) {
        const mtmd_input_chunk * ch = mtmd_input_chunks_get(chunks, i);
        const auto type = mtmd_input_chunk_get_type(ch);
        const size_t n = mtmd_input_chunk_get_n_tokens(ch);
        if (type == MTMD_INPUT_CHUNK_TYPE_TEXT) {
            size_t nt = 0;
            const llama_token * t = mtmd_input_chunk_get_tokens_text(ch, &nt);
            std::printf("  chunk %zu text n=%zu:", i, nt);
            for (size_t k = 0; k < nt; k++) std::printf(" %d", t[k]);
            std::printf("\n");
            continue;
        }
        n_image_chunks++;
        const mtmd_image_tokens * it = mtmd_input_chunk_get_tokens_image(ch);
        std::printf("  chunk %zu image n_tokens=%zu n_pos=%d\n", i, n, (int) mtmd_input_chunk_get_n_pos(ch));
        if (mtmd_encode_chunk(mctx, ch) != 0) return fail("mtmd_encode_chunk");
        const float * embd = mtmd_get_output_embd(mctx);
        const size_t n_embd_inp = (size_t) llama_model_n_embd_inp(model);
        if (!embd || !all_finite(embd, n * n_embd_inp)) return fail("image embeddings not finite");
        std::printf("  embd[0..5]: %.6f %.6f %.6f %.6f %.6f %.6f\n", embd[0], embd[1], embd[2], embd[3], embd[4], embd[5]);
        (void) it;
    }
    if (n_image_chunks != 1) return fail("expected the two mergeable frames to form one image chunk");

    // Full multimodal decode through the helper (M-RoPE positions for the image).
    llama_memory_clear(llama_get_memory(ctx), true);
    llama_pos n_past = 0;
    if (mtmd_helper_eval_chunks(mctx, ctx, chunks, 0, 0, 512, true, &n_past) != 0) return fail("mtmd_helper_eval_chunks");
    const float * logits2 = llama_get_logits_ith(ctx, -1);
    if (!logits2 || !all_finite(logits2, n_vocab)) return fail("multimodal logits not finite");
    std::printf("multimodal decode: n_past=%d argmax=%d\n", (int) n_past, argmax(logits2, n_vocab));

    mtmd_input_chunks_free(chunks);
    mtmd_bitmap_free(bm0);
    mtmd_bitmap_free(bm1);
    mtmd_free(mctx);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    std::printf("OK\n");
    return 0;
}
