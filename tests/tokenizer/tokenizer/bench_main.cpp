// Encode throughput, single thread: tokenizer_bench TOKENIZER CORPUS.txt [--whole]
// Encodes the corpus line by line (as tools/tokenizer/reference_encode.mjs --bench does), or as
// one text with --whole, and prints {"bytes", "tokens", "seconds", "mb_per_s"}.
#include <chrono>
#include <cstdio>
#include <string>

#include "tokenizer/tokenizer.h"
#include "util/mapped_file.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: tokenizer_bench TOKENIZER CORPUS.txt [--whole]\n");
    return 2;
  }
  auto tokenizer = llm::load_tokenizer(argv[1]);
  if (!tokenizer) {
    std::fprintf(stderr, "%s\n", tokenizer.error().to_string().c_str());
    return 1;
  }
  auto text = llm::read_text_file(argv[2], uint64_t{1} << 30);
  if (!text) {
    std::fprintf(stderr, "%s\n", text.error().to_string().c_str());
    return 1;
  }
  const bool whole = argc > 3 && std::string(argv[3]) == "--whole";
  const llm::EncodeOptions options{.add_bos = false, .parse_special = true};
  const std::string_view all = *text;
  (void)(*tokenizer)->encode(all.substr(0, std::min<size_t>(all.size(), 100000)), options);  // warm up
  size_t tokens = 0;
  const auto start = std::chrono::steady_clock::now();
  if (whole) {
    auto ids = (*tokenizer)->encode(all, options);
    if (!ids) return 1;
    tokens = ids->size();
  } else {
    for (size_t begin = 0; begin < all.size();) {
      size_t end = all.find('\n', begin);
      end = end == std::string_view::npos ? all.size() : end + 1;
      auto ids = (*tokenizer)->encode(all.substr(begin, end - begin), options);
      if (!ids) {
        std::fprintf(stderr, "%s\n", ids.error().to_string().c_str());
        return 1;
      }
      tokens += ids->size();
      begin = end;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"impl\":\"llama-stack-cpp%s\",\"bytes\":%zu,\"tokens\":%zu,\"seconds\":%.4f,\"mb_per_s\":%.2f}\n",
              whole ? " (whole)" : "", all.size(), tokens, seconds, static_cast<double>(all.size()) / 1e6 / seconds);
  return 0;
}
