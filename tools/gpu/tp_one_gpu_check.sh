#!/usr/bin/env bash
# The single-card check of the tensor-parallel CUDA path: every fixture variant that can split in
# two runs as 2 ranks on GPU 0 (host-staged communicator; NCCL refuses two ranks on one device) and
# must give transformers' greedy tokens (expected.json), like TP=1 on the same device.
#   tools/gpu/tp_one_gpu_check.sh [LLAMA_BINARY] [DEVICE]      (defaults: build/bin/llama, cuda-fp32)
set -uo pipefail
cd "$(dirname "$0")/../.."
llama=${1:-build/bin/llama}
device=${2:-cuda-fp32}
pass=0 fail=0 refused=0
for dir in tests/fixtures/models/*/*/; do
  [ -f "$dir/expected.json" ] || continue
  model=${dir%/}
  [ -f "$model/model.gguf" ] && model="$model/model.gguf"
  prompt=$(python3 -c "import json,sys; print(','.join(map(str, json.load(open('$dir/expected.json'))['prompt_tokens'])))")
  expected=$(python3 -c "import json,sys; print(json.load(open('$dir/expected.json'))['greedy_tokens'])")
  for layout in "--tp 1" "--tp 2 --devices 0,0"; do
    out=$("$llama" run "$model" --device "$device" $layout --prompt-tokens "$prompt" --max-tokens 32 \
          --ignore-eos --json 2>/tmp/tp_check.err)
    if [ $? -ne 0 ]; then
      if grep -q "valid sizes\|quantization block" /tmp/tp_check.err; then
        refused=$((refused + 1)); echo "refused  $dir $layout: $(tail -1 /tmp/tp_check.err)"; continue
      fi
      fail=$((fail + 1)); echo "FAILED   $dir $layout: $(tail -1 /tmp/tp_check.err)"; continue
    fi
    got=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['tokens'])" "$out")
    if [ "$got" = "$expected" ]; then pass=$((pass + 1)); echo "ok       $dir $layout"
    else fail=$((fail + 1)); echo "MISMATCH $dir $layout: $got"; fi
  done
done
echo "tp_one_gpu_check: $pass passed, $fail failed ($refused layouts refused as invalid for the model)"
[ "$fail" -eq 0 ]
