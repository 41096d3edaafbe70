// Helpers for the CPU backend tests: host tensors (CPU backend memory is host memory), random
// data, quantized blocks with sane scales, and tolerance checks that name the failing element.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/tensor.h"
#include "quant/dequantize.h"

namespace llm::test {

// Bytes of a tensor plus the view over them.
struct HostTensor {
  std::vector<std::byte> bytes;
  TensorView view;

  HostTensor(DType dtype, Shape shape) {
    view.dtype = dtype;
    view.shape = shape;
    bytes.resize(static_cast<size_t>(view.bytes()));
    view.data = bytes.data();
  }
  // Moves keep the vector's heap buffer, so view.data stays valid; copies would not.
  HostTensor(HostTensor&&) = default;
  HostTensor& operator=(HostTensor&&) = default;
  HostTensor(const HostTensor&) = delete;
  HostTensor& operator=(const HostTensor&) = delete;
  template <class T>
  T* as() { return reinterpret_cast<T*>(bytes.data()); }
  float* f32() { return as<float>(); }
  int32_t* i32() { return as<int32_t>(); }
  int64_t numel() const { return view.numel(); }
};

inline HostTensor f32_tensor(Shape shape, const std::vector<float>& values) {
  HostTensor t(DType::kF32, shape);
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.numel());
  std::memcpy(t.bytes.data(), values.data(), values.size() * sizeof(float));
  return t;
}

inline HostTensor i32_tensor(const std::vector<int32_t>& values) {
  HostTensor t(DType::kI32, Shape{static_cast<int64_t>(values.size())});
  std::memcpy(t.bytes.data(), values.data(), values.size() * sizeof(int32_t));
  return t;
}

inline std::vector<float> random_floats(int64_t n, uint32_t seed, float low = -1.0f, float high = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<float> values(static_cast<size_t>(n));
  for (auto& v : values) v = dist(rng);
  return values;
}

// A tensor of `dtype` whose dequantized values are random and of order 1 (quantized: random
// quants, scale fields set to small finite f16 values so no block decodes to inf/NaN).
inline HostTensor random_tensor(DType dtype, Shape shape, uint32_t seed) {
  HostTensor t(dtype, shape);
  std::mt19937 rng(seed);
  switch (dtype) {
    case DType::kF32: {
      auto values = random_floats(t.numel(), seed);
      std::memcpy(t.bytes.data(), values.data(), values.size() * sizeof(float));
      return t;
    }
    case DType::kF16:
    case DType::kBF16: {
      auto values = random_floats(t.numel(), seed);
      for (int64_t i = 0; i < t.numel(); ++i) {
        t.as<uint16_t>()[i] = dtype == DType::kF16 ? float_to_f16(values[i]) : float_to_bf16(values[i]);
      }
      return t;
    }
    case DType::kI32: {
      for (int64_t i = 0; i < t.numel(); ++i) t.i32()[i] = static_cast<int32_t>(rng() % 7) - 3;
      return t;
    }
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ6_K:
      break;
  }
  for (auto& byte : t.bytes) byte = static_cast<std::byte>(rng() & 0xff);
  const DTypeInfo& info = dtype_info(dtype);
  int64_t n_blocks = static_cast<int64_t>(t.bytes.size()) / info.block_bytes;
  auto set_f16 = [&](int64_t block, int64_t offset, float value) {
    uint16_t half = float_to_f16(value);
    std::memcpy(t.bytes.data() + block * info.block_bytes + offset, &half, sizeof(half));
  };
  std::uniform_real_distribution<float> scale(0.002f, 0.02f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    switch (dtype) {
      case DType::kQ8_0: set_f16(b, 0, scale(rng)); break;
      case DType::kQ4_0: set_f16(b, 0, 10 * scale(rng)); break;
      case DType::kQ4_K:
        set_f16(b, 0, scale(rng));
        set_f16(b, 2, scale(rng));
        break;
      case DType::kQ6_K: set_f16(b, 208, scale(rng) / 4); break;
      case DType::kF32:
      case DType::kF16:
      case DType::kBF16:
      case DType::kI32: break;
    }
  }
  return t;
}

// Expects |actual[i] - expected[i]| <= tolerance[i] for all i, reporting the first few misses.
inline void expect_close(const float* actual, const float* expected, const std::vector<double>& tolerance,
                         int64_t n, const std::string& what) {
  int misses = 0;
  for (int64_t i = 0; i < n && misses < 5; ++i) {
    double diff = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    if (!(diff <= tolerance[static_cast<size_t>(i)])) {
      ADD_FAILURE() << what << ": element " << i << " actual " << actual[i] << " expected " << expected[i]
                    << " diff " << diff << " > tolerance " << tolerance[static_cast<size_t>(i)];
      ++misses;
    }
  }
}

inline void expect_close(const float* actual, const float* expected, double absolute, double relative, int64_t n,
                         const std::string& what) {
  std::vector<double> tolerance(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) tolerance[static_cast<size_t>(i)] = absolute + relative * std::fabs(expected[i]);
  expect_close(actual, expected, tolerance, n, what);
}

}  // namespace llm::test
