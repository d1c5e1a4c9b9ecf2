// A small multilayer perceptron trained with Adam on a synthetic regression
// task, in plain single-threaded C++ so that every run is bit-for-bit
// deterministic: the same state and step give the same next state.
//
// State (what a checkpoint must hold): the parameters and Adam's two moment
// estimates, each one contiguous float array, plus an optional frozen
// embedding table that feeds the inputs and never changes (as in fine-tuning).
// Training data is a pure function of the step number, so a resumed run sees
// exactly the batches an uninterrupted run would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace example {

class MlpModel {
 public:
  // trainable_bytes: parameters + both Adam moments (3 floats per parameter).
  // frozen_bytes: size of the frozen embedding table (0 for none).
  MlpModel(size_t trainable_bytes, size_t frozen_bytes, size_t batch, uint64_t seed);

  // Computes gradients for step `step` (reads the state only); returns the loss.
  float ComputeGradients(uint64_t step);
  // Applies Adam with bias correction for update number `step` (>= 1).
  void ApplyAdam(uint64_t step);

  std::vector<float>& params() { return params_; }
  std::vector<float>& exp_avg() { return m_; }
  std::vector<float>& exp_avg_sq() { return v_; }
  std::vector<float>& frozen() { return frozen_; }
  size_t hidden() const { return hidden_; }
  size_t inputs() const { return in_; }
  size_t outputs() const { return out_; }
  size_t batch() const { return batch_; }
  size_t frozen_rows() const { return rows_; }
  size_t param_count() const { return params_.size(); }

 private:
  void MakeInput(uint64_t step, size_t sample, float* x) const;

  size_t in_, hidden_, out_, batch_, rows_;
  std::vector<float> params_, m_, v_, grad_, frozen_;
  // Views into params_/grad_: W1 is in x hidden (row j = weights from input j),
  // b1 hidden, W2 out x hidden, b2 out.
  size_t w1_, b1_, w2_, b2_;
  std::vector<float> h_, a_, y_, dout_, da_, x_;
};

}  // namespace example
