// Kernels the GPU tests launch (tests/gpu_test_kernels.cu, built with nvcc
// only when the CUDA backend is on). Plain C++ declarations: the tests
// themselves are compiled by the C++ compiler.
#pragma once

#include <cstddef>
#include <cstdint>

struct CUstream_st;

namespace ckpt::gpu_test {

// Sets every 32-bit word of [p, p + words) to `value` on `stream`.
void LaunchFill(uint32_t* p, size_t words, uint32_t value, CUstream_st* stream);

// Occupies `stream` for about `microseconds` (one thread spinning on the
// GPU clock), so that work enqueued after it runs late.
void LaunchSpin(uint64_t microseconds, CUstream_st* stream);

}  // namespace ckpt::gpu_test
