#!/usr/bin/env bash
# The GPU tests (CI has no GPU, so ctest does not run them): every CUDA op against the CPU
# reference kernels, the golden fixtures on devices cuda and cuda-fp32, and compute-sanitizer
# memcheck over the op tests. Builds with CUDA for sm_90 unless CMAKE_CUDA_ARCHITECTURES is set.
#   scripts/gpu-test.sh                 build in build-cuda/ (-j16), then test
#   LLAMA_GPU_BIN=dir scripts/gpu-test.sh   use cuda_ops_test and golden_test built elsewhere
#                                       (a GPU machine without gtest/nlohmann-json headers)
#   LLAMA_MEMCHECK=0                    skip compute-sanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${LLAMA_GPU_BIN:-}" ]]; then
  ops_test="$LLAMA_GPU_BIN/cuda_ops_test"
  golden_test="$LLAMA_GPU_BIN/golden_test"
else
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CUDA=ON \
    ${CMAKE_CUDA_ARCHITECTURES:+-DCMAKE_CUDA_ARCHITECTURES="$CMAKE_CUDA_ARCHITECTURES"} >/dev/null
  ninja -C build-cuda -j "${LLAMA_BUILD_JOBS:-16}" cuda_ops_test golden_test llama
  ops_test=build-cuda/tests/backend/cuda/cuda_ops_test
  golden_test=build-cuda/tests/model/golden_test
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$ops_test" --gtest_brief=1
LLAMA_TEST_DEVICES=cuda,cuda-fp32 "$golden_test" --gtest_filter='Fixtures/*' --gtest_brief=1
if [[ "${LLAMA_MEMCHECK:-1}" != 0 ]]; then
  # Long-context attention is slow under the sanitizer and adds no new code paths.
  compute-sanitizer --tool memcheck --error-exitcode 1 --leak-check full \
    "$ops_test" --gtest_filter='-*LongContext*'
fi
echo "gpu tests passed"
