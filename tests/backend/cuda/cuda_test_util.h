// Helpers for the CUDA backend tests: host tensors go up to the device through the backend's
// own copies, results come back to be compared with the CPU reference kernels on the host.
#pragma once

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <vector>

#include "backend/cpu_test_util.h"
#include "backend/registry.h"

namespace llm::test {

// A device copy of a host tensor; `view` points into device memory.
struct DeviceTensor {
  Buffer buffer;
  TensorView view;
};

inline DeviceTensor upload(Backend& backend, const HostTensor& host) {
  Result<Buffer> buffer = backend.allocate(host.view.bytes());
  EXPECT_TRUE(buffer.ok()) << buffer.error().to_string();
  DeviceTensor device{std::move(*buffer), host.view};
  device.view.data = device.buffer.data();
  backend.copy_from_host(device.view, host.view.data);
  return device;
}

// A device f32 tensor filled with NaN, so an element a kernel forgets to write fails the comparison.
inline DeviceTensor device_nan(Backend& backend, Shape shape) {
  HostTensor host(DType::kF32, shape);
  std::fill(host.f32(), host.f32() + host.numel(), std::numeric_limits<float>::quiet_NaN());
  return upload(backend, host);
}

inline HostTensor download(Backend& backend, const DeviceTensor& device) {
  HostTensor host(device.view.dtype, device.view.shape);
  backend.copy_to_host(host.bytes.data(), device.view);
  return host;
}

// "cuda" (tensor cores for products of more than 8 rows) and "cuda-fp32" (all f32).
inline std::unique_ptr<Backend> make_cuda(const std::string& device) {
  Result<std::unique_ptr<Backend>> backend = create_backend(BackendOptions{.device = device});
  EXPECT_TRUE(backend.ok()) << backend.error().to_string();
  return backend.ok() ? std::move(*backend) : nullptr;
}

// A test on one "cuda" backend, for ops without matrix products (the same kernels on both CUDA
// precisions, so one instance is enough).
class CudaDeviceTest : public testing::Test {
 protected:
  void SetUp() override {
    backend_ = make_cuda("cuda");
    ASSERT_NE(backend_, nullptr);
  }
  std::unique_ptr<Backend> backend_;
};

}  // namespace llm::test
