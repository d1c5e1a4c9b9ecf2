#include "gpu_test_kernels.h"

#include <cuda_runtime.h>

namespace ckpt::gpu_test {
namespace {

__global__ void FillKernel(uint32_t* p, size_t words, uint32_t value) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < words; i += stride)
    p[i] = value;
}

__device__ uint64_t GlobalTimerNs() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void SpinKernel(uint64_t nanoseconds) {
  const uint64_t start = GlobalTimerNs();
  while (GlobalTimerNs() - start < nanoseconds) __nanosleep(1000);
}

}  // namespace

void LaunchFill(uint32_t* p, size_t words, uint32_t value, CUstream_st* stream) {
  FillKernel<<<256, 256, 0, stream>>>(p, words, value);
}

void LaunchSpin(uint64_t microseconds, CUstream_st* stream) {
  SpinKernel<<<1, 1, 0, stream>>>(microseconds * 1000);
}

}  // namespace ckpt::gpu_test
