#!/usr/bin/env bash
# The serving benchmark of docs/benchmarks.md: `llama serve` on a synthetic model, then
# `llama-loadgen --bench` (1,000 ShareGPT-like requests) at each concurrency, one JSON per run.
#
# usage: scripts/serve-bench.sh BIN_DIR OUT_DIR [MODEL=llama3.1-8b] [DEVICE=cuda] [CONCURRENCY="64 128"]
#        env: REQUESTS (1000), KV_TOKENS (131072), MAX_NUM_SEQS (largest concurrency), PORT (8321),
#             RUN_TIMEOUT (seconds per loadgen run, 240), EXTRA_LOADGEN_ARGS
set -u
bin=$1 out=$2 model=${3:-llama3.1-8b} device=${4:-cuda} concurrency=${5:-"64 128"}
requests=${REQUESTS:-1000} kv_tokens=${KV_TOKENS:-131072} port=${PORT:-8321} run_timeout=${RUN_TIMEOUT:-240}
max_seqs=${MAX_NUM_SEQS:-$(tr ' ' '\n' <<<"$concurrency" | sort -n | tail -1)}
mkdir -p "$out"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 >"$out/gpu_memory.csv" &
  smi=$!
fi
start=$(date +%s)
"$bin/llama" serve --synthetic "$model" --device "$device" --port "$port" --kv-tokens "$kv_tokens" \
  --max-num-seqs "$max_seqs" --quiet >"$out/serve.log" 2>&1 &
server=$!
until (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do
  if ! kill -0 "$server" 2>/dev/null; then echo "server exited:"; cat "$out/serve.log"; exit 1; fi
  sleep 1
done
echo "server up after $(($(date +%s) - start)) s: $(head -c 300 "$out/serve.log")"
status=0
for c in $concurrency; do
  timeout "$run_timeout" "$bin/llama-loadgen" --port "$port" --bench --requests "$requests" --concurrency "$c" \
    --seed 0 --json "$out/bench_c$c.json" ${EXTRA_LOADGEN_ARGS:-} 2>"$out/loadgen_c$c.err" || status=1
  head -5 "$out/loadgen_c$c.err"
done
kill "$server"
wait "$server"
[ -n "${smi:-}" ] && kill "$smi" && echo "peak GPU memory: $(sort -n "$out/gpu_memory.csv" | tail -1) MiB"
tail -3 "$out/serve.log"
exit $status
