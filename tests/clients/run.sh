#!/usr/bin/env bash
# The official npm SDKs (openai, ollama, llama-stack-client current and 0.2.x) against a real
# `llama serve`. usage: tests/clients/run.sh [BUILD_DIR]   (default: build)
# Installs the SDKs pinned in tests/clients/package.json into .cache/npm-clients (gitignored),
# serves models/demo if it has a tokenizer.json, else a fixture copy with a generated tokenizer
# (tools/serve/make_serve_fixture.py), runs every script, then stops the server with SIGTERM and
# checks that it exits cleanly.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
llama=$build/bin/llama
[ -x "$llama" ] || { echo "clients: $llama not built" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "clients: node and npm are required" >&2; exit 1; }

cache=$root/.cache/npm-clients
mkdir -p "$cache"
if ! cmp -s "$root/tests/clients/package.json" "$cache/package.json" || [ ! -d "$cache/node_modules" ]; then
  cp "$root/tests/clients/package.json" "$cache/package.json"
  (cd "$cache" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error) || { echo "clients: npm install failed" >&2; exit 1; }
fi
ln -sfn "$cache/node_modules" "$root/tests/clients/node_modules"

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -f "$root/tests/clients/node_modules"
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -f "$root/models/demo/tokenizer.json" ]; then
  model=$root/models/demo
else
  model=$tmp/serve-fixture
  python3 "$root/tools/serve/make_serve_fixture.py" --src "$root/tests/fixtures/models/gqa-llama3/hf" --out "$model" || exit 1
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$llama" serve "$model" --port "$port" --max-num-seqs 8 --quiet > "$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v1/health', timeout=1)" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { echo "clients: the server exited:"; cat "$tmp/server.log"; exit 1; }
  sleep 0.1
done

export LLAMA_TEST_BASE_URL=http://127.0.0.1:$port LLAMA_TEST_BIN=$llama LLAMA_TEST_MODEL_PATH=$model
status=0
for script in openai ollama llama_stack llama_stack_old; do
  node "$root/tests/clients/$script.mjs" || status=1
done

kill -TERM "$server_pid"
for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "clients: the server did not stop within 10 s of SIGTERM"; status=1
else
  wait "$server_pid"; rc=$?
  [ $rc -eq 0 ] || { echo "clients: the server exited with $rc after SIGTERM"; status=1; }
fi
server_pid=""
[ $status -eq 0 ] || { echo "--- server log"; tail -50 "$tmp/server.log"; }
exit $status
