// The MLP of mlp_model.h trained on a CUDA device: the same layout of state
// (parameters, Adam's two moments, the frozen embedding), the same synthetic
// data, the same Adam update, as kernels on one stream (mlp_model_cuda.cu).
//
// Deterministic: every reduction runs in a fixed order (one thread per output
// summing sequentially, or a fixed-size block tree), no atomics, fixed launch
// configurations. The same state and step therefore give the same next state
// bit for bit on the same GPU and build, which is what makes a resumed run end
// identical to an uninterrupted one. (It is not bit-identical to the CPU
// model: the GPU rounds differently, e.g. fused multiply-adds.)
//
// Plain C++ interface: callers need no CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mlp_model.h"

struct CUstream_st;

namespace example {

class MlpModelCuda {
 public:
  // Empty when a CUDA device is usable; else why not (the CUDA error).
  static std::string NoDeviceReason();

  // Allocates the model on the current device and uploads the initial state
  // of `init` (its shapes, batch and values). nullptr and *error on failure.
  static std::unique_ptr<MlpModelCuda> Create(MlpModel& init, std::string* error);
  ~MlpModelCuda();
  MlpModelCuda(const MlpModelCuda&) = delete;
  MlpModelCuda& operator=(const MlpModelCuda&) = delete;

  // Enqueue on `stream`; nothing waits on the host.
  void ComputeGradients(uint64_t step, CUstream_st* stream);  // reads the state only
  void ApplyAdam(uint64_t step, CUstream_st* stream);         // update number `step` >= 1

  // The loss of the last ComputeGradients (waits for `stream`).
  float Loss(CUstream_st* stream);

  // Device pointers of the state (what a checkpoint protects).
  float* params() { return params_; }
  float* exp_avg() { return m_; }
  float* exp_avg_sq() { return v_; }
  float* frozen() { return frozen_; }
  size_t param_count() const { return params_count_; }
  size_t frozen_count() const { return frozen_count_; }

  // Copies `count` floats of device memory at `src` to the host (waits).
  static std::string ToHost(const float* src, size_t count, std::vector<float>* out);

  // Empty, or the first CUDA error since the last call (kernel launches).
  static std::string CheckError();

 private:
  MlpModelCuda() = default;

  size_t in_ = 0, hidden_ = 0, out_ = 0, batch_ = 0, rows_ = 0;
  size_t params_count_ = 0, frozen_count_ = 0;
  size_t w1_ = 0, b1_ = 0, w2_ = 0, b2_ = 0;
  float* params_ = nullptr;
  float* m_ = nullptr;
  float* v_ = nullptr;
  float* grad_ = nullptr;
  float* frozen_ = nullptr;
  float* x_ = nullptr;
  float* h_ = nullptr;
  float* a_ = nullptr;
  float* da_ = nullptr;
  float* dout_ = nullptr;
  float* sq_ = nullptr;
  float* loss_ = nullptr;       // device scalar
  float* loss_host_ = nullptr;  // pinned
};

}  // namespace example
