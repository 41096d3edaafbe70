// fill_synthetic on the CPU backend: the values are the textbook splitmix64 stream (drawn one
// after another, as Vigna's reference code does) mapped to [-sqrt(3) scale, sqrt(3) scale]; a
// block at (row0, col0) is exactly that part of the whole tensor, in every dtype.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu_test_util.h"

namespace llm::test {
namespace {

// The reference generator: state += gamma, then the mix, one draw after another.
uint64_t sequential_splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<float> sequential_values(uint64_t seed, int64_t count, float scale) {
  std::vector<float> values;
  for (int64_t i = 0; i < count; ++i) {
    const double unit = static_cast<double>(sequential_splitmix64(seed) >> 11) / 9007199254740992.0;  // [0, 1)
    values.push_back(static_cast<float>(unit * 2.0 - 1.0) * scale * 1.7320508f);
  }
  return values;
}

TEST(SyntheticFill, IsTheSplitMix64StreamInOrder) {
  CpuBackend backend(CpuBackendOptions{.n_threads = 3});
  const int64_t rows = 37, columns = 53;
  const std::vector<float> expected = sequential_values(12345, rows * columns, 0.25f);
  HostTensor out(DType::kF32, {rows, columns});
  backend.fill_synthetic(out.view, SyntheticFill{.state = 12345, .scale = 0.25f, .columns = columns});
  for (int64_t i = 0; i < rows * columns; ++i) ASSERT_EQ(out.f32()[i], expected[static_cast<size_t>(i)]) << i;
  // Uniform with variance scale^2: within [-sqrt(3) scale, sqrt(3) scale], mean near 0.
  double sum = 0;
  for (float value : expected) {
    EXPECT_LE(std::fabs(value), 0.25f * 1.7320508f);
    sum += value;
  }
  EXPECT_LT(std::fabs(sum / static_cast<double>(expected.size())), 0.02);
}

TEST(SyntheticFill, ABlockIsThatPartOfTheWholeTensor) {
  CpuBackend backend(CpuBackendOptions{.n_threads = 2});
  const int64_t rows = 20, columns = 24;
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const SyntheticFill whole_fill{.state = 99, .scale = 0.5f, .columns = columns};
    HostTensor whole(dtype, {rows, columns});
    backend.fill_synthetic(whole.view, whole_fill);
    const std::vector<float> expected = sequential_values(99, rows * columns, 0.5f);
    const int64_t element_bytes = dtype == DType::kF32 ? 4 : 2;
    for (int64_t i = 0; i < rows * columns; ++i) {
      uint16_t half = 0;
      std::memcpy(&half, whole.bytes.data() + i * element_bytes, 2);
      const float value = dtype == DType::kF32   ? whole.f32()[i]
                          : dtype == DType::kF16 ? f16_to_float(half)
                                                 : bf16_to_float(half);
      const float want = expected[static_cast<size_t>(i)];
      const float rounded = dtype == DType::kF32   ? want
                            : dtype == DType::kF16 ? f16_to_float(float_to_f16(want))
                                                   : bf16_to_float(float_to_bf16(want));
      ASSERT_EQ(value, rounded) << i;
    }
    // Rows [3, 11) x columns [5, 18), as a tensor-parallel rank takes a column slice.
    SyntheticFill block_fill = whole_fill;
    block_fill.row0 = 3;
    block_fill.col0 = 5;
    HostTensor block(dtype, {8, 13});
    backend.fill_synthetic(block.view, block_fill);
    for (int64_t r = 0; r < 8; ++r) {
      EXPECT_EQ(std::memcmp(block.bytes.data() + r * 13 * element_bytes,
                            whole.bytes.data() + ((3 + r) * columns + 5) * element_bytes,
                            static_cast<size_t>(13 * element_bytes)),
                0)
          << "row " << r;
    }
  }
}

TEST(SyntheticFill, NormsAreOnes) {
  CpuBackend backend(CpuBackendOptions{});
  HostTensor norm(DType::kF32, {300});
  backend.fill_synthetic(norm.view, SyntheticFill{.state = 7, .ones = true, .columns = 300});
  for (int64_t i = 0; i < 300; ++i) ASSERT_EQ(norm.f32()[i], 1.0f);
}

}  // namespace
}  // namespace llm::test
