#include <cuda_runtime.h>

#include "snapshot_bench.h"

namespace ckpt::bench {
namespace {

__global__ void BusyKernel(float* out, uint64_t iterations) {
  float a = static_cast<float>(threadIdx.x) * 1e-3f, b = 1.0f - 1e-7f;
  for (uint64_t i = 0; i < iterations; ++i) {
    a = fmaf(a, b, 1e-4f);
    b = fmaf(b, 0.99999f, 1e-6f);
  }
  out[static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x] = a + b;
}

}  // namespace

void LaunchBusyKernel(float* out, uint64_t iterations, int blocks, CUstream_st* stream) {
  BusyKernel<<<blocks, 256, 0, stream>>>(out, iterations);
}

}  // namespace ckpt::bench
