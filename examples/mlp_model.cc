#include "mlp_model.h"

#include <algorithm>
#include <cmath>

namespace example {
namespace {

constexpr size_t kIn = 256;
constexpr size_t kOut = 16;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1).
float UnitFloat(uint64_t& state) {
  return static_cast<float>(SplitMix64(state) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

}  // namespace

MlpModel::MlpModel(size_t trainable_bytes, size_t frozen_bytes, size_t batch, uint64_t seed)
    : in_(kIn), out_(kOut), batch_(std::max<size_t>(batch, 1)) {
  const size_t params = std::max<size_t>(trainable_bytes / (3 * sizeof(float)), kIn + 2 * kOut + 2);
  hidden_ = std::max<size_t>((params - kOut) / (kIn + 1 + kOut), 1);
  w1_ = 0;
  b1_ = w1_ + in_ * hidden_;
  w2_ = b1_ + hidden_;
  b2_ = w2_ + out_ * hidden_;
  params_.assign(b2_ + out_, 0.0f);
  m_.assign(params_.size(), 0.0f);
  v_.assign(params_.size(), 0.0f);
  grad_.assign(params_.size(), 0.0f);

  uint64_t rng = seed;
  const float s1 = std::sqrt(6.0f / static_cast<float>(in_ + hidden_));
  const float s2 = std::sqrt(6.0f / static_cast<float>(hidden_ + out_));
  for (size_t i = w1_; i < b1_; ++i) params_[i] = s1 * UnitFloat(rng);
  for (size_t i = w2_; i < b2_; ++i) params_[i] = s2 * UnitFloat(rng);

  rows_ = frozen_bytes / (in_ * sizeof(float));
  frozen_.resize(rows_ * in_);
  for (auto& f : frozen_) f = 0.5f * UnitFloat(rng);

  h_.resize(batch_ * hidden_);
  a_.resize(batch_ * hidden_);
  da_.resize(batch_ * hidden_);
  y_.resize(batch_ * out_);
  dout_.resize(batch_ * out_);
  x_.resize(batch_ * in_);
}

void MlpModel::MakeInput(uint64_t step, size_t sample, float* x) const {
  uint64_t rng = step * 0x100000001b3ULL + sample * 0x9e3779b9ULL + 17;
  for (size_t j = 0; j < in_; ++j) x[j] = UnitFloat(rng);
  if (rows_ > 0) {
    const float* row = frozen_.data() + (SplitMix64(rng) % rows_) * in_;
    for (size_t j = 0; j < in_; ++j) x[j] += row[j];
  }
}

float MlpModel::ComputeGradients(uint64_t step) {
  const float* p = params_.data();
  std::fill(grad_.begin(), grad_.end(), 0.0f);
  for (size_t b = 0; b < batch_; ++b) MakeInput(step, b, &x_[b * in_]);

  // Forward, layer 1: h = W1^T x + b1 (W1 stored input-major, so the inner
  // loop runs over contiguous hidden units and vectorizes).
  for (size_t b = 0; b < batch_; ++b) std::copy(p + b1_, p + b1_ + hidden_, &h_[b * hidden_]);
  for (size_t j = 0; j < in_; ++j) {
    const float* w = p + w1_ + j * hidden_;
    for (size_t b = 0; b < batch_; ++b) {
      const float xj = x_[b * in_ + j];
      float* h = &h_[b * hidden_];
      for (size_t i = 0; i < hidden_; ++i) h[i] += xj * w[i];
    }
  }
  for (size_t i = 0; i < batch_ * hidden_; ++i) a_[i] = h_[i] > 0.0f ? h_[i] : 0.0f;

  // Layer 2 and loss against a fixed teacher: target_k = tanh(x_k - x_{k+16}).
  float loss = 0.0f;
  for (size_t b = 0; b < batch_; ++b) {
    for (size_t k = 0; k < out_; ++k) {
      const float* w = p + w2_ + k * hidden_;
      const float* a = &a_[b * hidden_];
      float acc = p[b2_ + k];
      for (size_t i = 0; i < hidden_; ++i) acc += w[i] * a[i];
      const float target = std::tanh(x_[b * in_ + k] - x_[b * in_ + k + out_]);
      const float diff = acc - target;
      y_[b * out_ + k] = acc;
      dout_[b * out_ + k] = 2.0f * diff / static_cast<float>(batch_ * out_);
      loss += diff * diff;
    }
  }
  loss /= static_cast<float>(batch_ * out_);

  // Backward.
  float* g = grad_.data();
  std::fill(da_.begin(), da_.end(), 0.0f);
  for (size_t b = 0; b < batch_; ++b) {
    const float* a = &a_[b * hidden_];
    float* da = &da_[b * hidden_];
    for (size_t k = 0; k < out_; ++k) {
      const float d = dout_[b * out_ + k];
      const float* w = p + w2_ + k * hidden_;
      float* gw = g + w2_ + k * hidden_;
      for (size_t i = 0; i < hidden_; ++i) {
        gw[i] += d * a[i];
        da[i] += d * w[i];
      }
      g[b2_ + k] += d;
    }
    for (size_t i = 0; i < hidden_; ++i) {
      if (h_[b * hidden_ + i] <= 0.0f) da[i] = 0.0f;
      g[b1_ + i] += da[i];
    }
  }
  for (size_t j = 0; j < in_; ++j) {
    float* gw = g + w1_ + j * hidden_;
    for (size_t b = 0; b < batch_; ++b) {
      const float xj = x_[b * in_ + j];
      const float* dh = &da_[b * hidden_];
      for (size_t i = 0; i < hidden_; ++i) gw[i] += xj * dh[i];
    }
  }
  return loss;
}

void MlpModel::ApplyAdam(uint64_t step) {
  constexpr float kLr = 1e-3f, kBeta1 = 0.9f, kBeta2 = 0.999f, kEps = 1e-8f;
  const float c1 = 1.0f / (1.0f - std::pow(kBeta1, static_cast<float>(step)));
  const float c2 = 1.0f / (1.0f - std::pow(kBeta2, static_cast<float>(step)));
  float* p = params_.data();
  float* m = m_.data();
  float* v = v_.data();
  const float* g = grad_.data();
  const size_t n = params_.size();
  for (size_t i = 0; i < n; ++i) {
    m[i] = kBeta1 * m[i] + (1.0f - kBeta1) * g[i];
    v[i] = kBeta2 * v[i] + (1.0f - kBeta2) * g[i] * g[i];
    p[i] -= kLr * (m[i] * c1) / (std::sqrt(v[i] * c2) + kEps);
  }
}

}  // namespace example
