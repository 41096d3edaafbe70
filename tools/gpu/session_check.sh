#!/usr/bin/env bash
# One call's worth of GPU work for the CUDA backend (build here, run on the GPU machine): the GPU
# tests, the one-GPU benchmarks of docs/benchmarks.md, the 8,192-token peak-memory run, and the
# KV planner of `llama serve` on the 8B shape. Logs go to OUT_DIR; a summary is printed last.
#   tools/gpu/session_check.sh BIN_DIR OUT_DIR [tests|bench|serve|ops|load|early|profile|memcheck|all]
#     memcheck (not part of all: ~10x slower, ~8 min): compute-sanitizer memcheck over the CUDA op tests and
#     the golden fixtures on "cuda", racecheck and synccheck over the attention and sampling kernels
#     ops: cuda_op_bench (single ops on 8B shapes); load: a random 16 GB Llama-3.1-8B checkpoint
#     written by tools/gpu/make_random_checkpoint.py, then loaded by `llama bench` from the page cache;
#     early: decode at 1 and 64 streams with early (programmatic dependent) kernel launches off, then on
#     profile: ncu (no clock or cache control, kernels inside graphs one by one) over a short 8B run whose
#     last steps are 1-stream decode; per-launch durations and DRAM bytes in OUT_DIR/ncu_decode.csv
#     serve: scripts/serve-bench.sh at concurrency 64 (REQUESTS, default 400), KV pool sized by the planner
# BIN_DIR holds llama, cuda_ops_test, golden_test (and any shared libraries they need, found via
# LD_LIBRARY_PATH=BIN_DIR). The golden fixtures are read from this checkout.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=$(cd "$1" && pwd) out=$2 what=${3:-all}
mkdir -p "$out"
export LD_LIBRARY_PATH="$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
summary=()
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
if [[ $what == tests || $what == all ]]; then
  "$bin/cuda_ops_test" --gtest_brief=1 >"$out/ops.log" 2>&1; summary+=("cuda_ops_test exit $?: $(tail -3 "$out/ops.log" | tr '\n' ' ')")
  LLAMA_TEST_DEVICES=cuda,cuda-fp32 "$bin/golden_test" --gtest_filter='Fixtures/*' --gtest_brief=1 >"$out/golden.log" 2>&1
  summary+=("golden_test exit $?: $(tail -2 "$out/golden.log" | tr '\n' ' ')")
  tools/gpu/tp_one_gpu_check.sh "$bin/llama" cuda-fp32 >"$out/tp_one_gpu.log" 2>&1
  summary+=("tp_one_gpu_check (cuda-fp32) exit $?: $(tail -1 "$out/tp_one_gpu.log")")
fi
if [[ $what == bench || $what == all ]]; then
  "$bin/llama" bench --synthetic llama3.1-8b --device cuda --repeat 3 >"$out/bench.txt" 2>&1
  summary+=("bench exit $?:" "$(cat "$out/bench.txt")")
  "$bin/llama" bench --synthetic llama3.1-8b --device cuda --prompt-lengths 8192 --prefill-chunk 512 --streams 1 \
    --stream-prompt 8192 --stream-generate 16 --repeat 1 >"$out/bench_8k.txt" 2>&1
  summary+=("bench 8k (chunks of 512) exit $?:" "$(cat "$out/bench_8k.txt")")
  timeout 300 "$bin/llama" serve --synthetic llama3.1-8b --device cuda --port 8399 >"$out/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 280); do grep -q "KV cache\|error" "$out/serve.log" && break; sleep 1; done
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
  summary+=("serve plan: $(grep -m1 "KV cache" "$out/serve.log")")
fi
if [[ $what == serve || $what == all ]]; then
  REQUESTS=${REQUESTS:-400} KV_TOKENS=0 RUN_TIMEOUT=150 scripts/serve-bench.sh "$bin" "$out/serve" llama3.1-8b cuda 64 \
    >"$out/serve_bench.txt" 2>&1
  summary+=("serve-bench exit $?:" "$(cat "$out/serve_bench.txt")")
fi
if [[ $what == ops || $what == all ]]; then
  "$bin/cuda_op_bench" >"$out/op_bench.txt" 2>&1
  summary+=("cuda_op_bench exit $?:" "$(cat "$out/op_bench.txt")")
fi
if [[ $what == load || $what == all ]]; then
  python3 tools/gpu/make_random_checkpoint.py /tmp/ckpt-8b >"$out/checkpoint.txt" 2>&1
  "$bin/llama" bench /tmp/ckpt-8b --device cuda --prompt-lengths 512 --streams 1 --stream-generate 32 --repeat 1 \
    >"$out/bench_file.txt" 2>&1
  summary+=("checkpoint: $(tail -1 "$out/checkpoint.txt")" "bench from the file, exit $?:" "$(cat "$out/bench_file.txt")")
fi
if [[ $what == early ]]; then
  for early in 0 1; do
    LLAMA_CUDA_EARLY_LAUNCH=$early "$bin/llama" bench --synthetic llama3.1-8b --device cuda --prompt-lengths 2048 \
      --streams 1,64 --repeat 3 >"$out/early_$early.txt" 2>&1
    summary+=("LLAMA_CUDA_EARLY_LAUNCH=$early exit $?:" "$(tail -3 "$out/early_$early.txt")")
  done
fi
if [[ $what == profile ]]; then
  timeout "${PROFILE_SECONDS:-300}" ncu --clock-control none --cache-control none --graph-profiling node \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv --page raw \
    "$bin/llama" bench --synthetic llama3.1-8b --device cuda --prompt-lengths 16 --streams 1 --stream-prompt 16 \
    --stream-generate 4 --repeat 1 >"$out/ncu_decode.csv" 2>"$out/ncu_decode.err"
  summary+=("ncu decode exit $? (124: timed out): $(wc -l <"$out/ncu_decode.csv") lines; $(tail -2 "$out/ncu_decode.err" | tr '\n' ' ')")
fi
if [[ $what == memcheck ]]; then
  sanitizer=(compute-sanitizer --error-exitcode 1 --print-limit 20)
  timeout "${MEMCHECK_SECONDS:-200}" "${sanitizer[@]}" --tool memcheck --leak-check full "$bin/cuda_ops_test" \
    >"$out/memcheck_ops.log" 2>&1
  summary+=("memcheck cuda_ops_test exit $? (124: timed out), $(grep -c "^\[       OK \]" "$out/memcheck_ops.log") tests passed: $(grep -E "ERROR SUMMARY|PASSED|FAILED" "$out/memcheck_ops.log" | tail -3 | tr '\n' ' ')")
  LLAMA_TEST_DEVICES=cuda timeout 90 "${sanitizer[@]}" --tool memcheck "$bin/golden_test" --gtest_filter='Fixtures/*' \
    --gtest_brief=1 >"$out/memcheck_golden.log" 2>&1
  summary+=("memcheck golden_test exit $?: $(grep -E "ERROR SUMMARY|PASSED|FAILED" "$out/memcheck_golden.log" | tail -3 | tr '\n' ' ')")
  for tool in racecheck synccheck; do
    timeout 240 "${sanitizer[@]}" --tool $tool "$bin/cuda_ops_test" --gtest_brief=1 \
      --gtest_filter='*Attention*:*Sample*' >"$out/${tool}.log" 2>&1
    summary+=("$tool attention+sample exit $?: $(grep -E "ERROR SUMMARY|PASSED|FAILED" "$out/${tool}.log" | tail -3 | tr '\n' ' ')")
  done
fi
printf '%s\n' "${summary[@]}"
