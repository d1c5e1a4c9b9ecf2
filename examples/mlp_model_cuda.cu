#include "mlp_model_cuda.h"

#include <cuda_runtime.h>

#include <cmath>

namespace example {
namespace {

constexpr int kThreads = 256;  // every launch: fixed block size

// Same generator as mlp_model.cc.
__device__ uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

__device__ float UnitFloat(uint64_t& state) {
  return static_cast<float>(SplitMix64(state) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

unsigned Blocks(size_t n) {
  const size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 16 ? 65535 * 16 : b));
}

// Grid-stride loop over [0, n).
#define FOR_EACH(i, n)                                                                  \
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<size_t>(gridDim.x) * blockDim.x)

// x[b, :] for step `step`: one thread per sample, sequential generator.
__global__ void MakeInput(uint64_t step, size_t batch, size_t in, const float* frozen, size_t rows,
                          float* x) {
  FOR_EACH(b, batch) {
    uint64_t rng = step * 0x100000001b3ULL + b * 0x9e3779b9ULL + 17;
    float* xb = x + b * in;
    for (size_t j = 0; j < in; ++j) xb[j] = UnitFloat(rng);
    if (rows > 0) {
      const float* row = frozen + (SplitMix64(rng) % rows) * in;
      for (size_t j = 0; j < in; ++j) xb[j] += row[j];
    }
  }
}

// h = W1^T x + b1, a = relu(h): one thread per (b, i), j summed in order.
__global__ void Layer1(const float* p, size_t w1, size_t b1, const float* x, size_t batch, size_t in,
                       size_t hidden, float* h, float* a) {
  FOR_EACH(t, batch * hidden) {
    const size_t b = t / hidden, i = t % hidden;
    float acc = p[b1 + i];
    for (size_t j = 0; j < in; ++j) acc += x[b * in + j] * p[w1 + j * hidden + i];
    h[t] = acc;
    a[t] = acc > 0.0f ? acc : 0.0f;
  }
}

// y[b, k] = W2[k] . a[b] + b2[k]: one block per (b, k), a fixed tree reduction.
__global__ void Layer2(const float* p, size_t w2, size_t b2, const float* a, const float* x, size_t batch,
                       size_t in, size_t hidden, size_t out, float* dout, float* sq) {
  __shared__ float part[kThreads];
  const size_t b = blockIdx.x / out, k = blockIdx.x % out;
  float acc = 0.0f;
  for (size_t i = threadIdx.x; i < hidden; i += kThreads) acc += p[w2 + k * hidden + i] * a[b * hidden + i];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (static_cast<int>(threadIdx.x) < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const float y = p[b2 + k] + part[0];
    const float target = tanhf(x[b * in + k] - x[b * in + k + out]);
    const float diff = y - target;
    dout[b * out + k] = 2.0f * diff / static_cast<float>(batch * out);
    sq[b * out + k] = diff * diff;
  }
}

__global__ void LossKernel(const float* sq, size_t n, float* loss) {
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    float s = 0.0f;
    for (size_t i = 0; i < n; ++i) s += sq[i];
    *loss = s / static_cast<float>(n);
  }
}

// gW2[k, i] = sum_b dout[b, k] a[b, i]; gb2[k] = sum_b dout[b, k].
__global__ void GradLayer2(const float* dout, const float* a, size_t batch, size_t hidden, size_t out,
                           size_t w2, size_t b2, float* g) {
  FOR_EACH(t, out * hidden) {
    const size_t k = t / hidden, i = t % hidden;
    float acc = 0.0f;
    for (size_t b = 0; b < batch; ++b) acc += dout[b * out + k] * a[b * hidden + i];
    g[w2 + t] = acc;
    if (i == 0) {
      float gb = 0.0f;
      for (size_t b = 0; b < batch; ++b) gb += dout[b * out + k];
      g[b2 + k] = gb;
    }
  }
}

// da[b, i] = relu'(h) sum_k dout[b, k] W2[k, i].
__global__ void BackHidden(const float* p, size_t w2, const float* dout, const float* h, size_t batch,
                           size_t hidden, size_t out, float* da) {
  FOR_EACH(t, batch * hidden) {
    const size_t b = t / hidden, i = t % hidden;
    float acc = 0.0f;
    for (size_t k = 0; k < out; ++k) acc += dout[b * out + k] * p[w2 + k * hidden + i];
    da[t] = h[t] > 0.0f ? acc : 0.0f;
  }
}

// gb1[i] = sum_b da[b, i]; gW1[j, i] = sum_b x[b, j] da[b, i].
__global__ void GradLayer1(const float* x, const float* da, size_t batch, size_t in, size_t hidden,
                           size_t w1, size_t b1, float* g) {
  FOR_EACH(t, (in + 1) * hidden) {
    const size_t j = t / hidden, i = t % hidden;
    float acc = 0.0f;
    if (j < in) {
      for (size_t b = 0; b < batch; ++b) acc += x[b * in + j] * da[b * hidden + i];
      g[w1 + t] = acc;
    } else {
      for (size_t b = 0; b < batch; ++b) acc += da[b * hidden + i];
      g[b1 + i] = acc;
    }
  }
}

__global__ void AdamKernel(float* p, float* m, float* v, const float* g, size_t n, float c1, float c2) {
  constexpr float kLr = 1e-3f, kBeta1 = 0.9f, kBeta2 = 0.999f, kEps = 1e-8f;
  FOR_EACH(i, n) {
    const float gi = g[i];
    const float mi = kBeta1 * m[i] + (1.0f - kBeta1) * gi;
    const float vi = kBeta2 * v[i] + (1.0f - kBeta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= kLr * (mi * c1) / (sqrtf(vi * c2) + kEps);
  }
}

std::string ErrorText(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

}  // namespace

std::string MlpModelCuda::NoDeviceReason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return ErrorText(e);
  }
  return n == 0 ? "cudaGetDeviceCount found no device" : "";
}

std::unique_ptr<MlpModelCuda> MlpModelCuda::Create(MlpModel& init, std::string* error) {
  std::unique_ptr<MlpModelCuda> m(new MlpModelCuda());
  m->in_ = init.inputs();
  m->hidden_ = init.hidden();
  m->out_ = init.outputs();
  m->batch_ = init.batch();
  m->rows_ = init.frozen_rows();
  m->params_count_ = init.param_count();
  m->frozen_count_ = init.frozen().size();
  m->w1_ = 0;
  m->b1_ = m->w1_ + m->in_ * m->hidden_;
  m->w2_ = m->b1_ + m->hidden_;
  m->b2_ = m->w2_ + m->out_ * m->hidden_;
  const size_t bh = m->batch_ * m->hidden_, bo = m->batch_ * m->out_;
  struct Alloc {
    float** p;
    size_t n;
  };
  for (const Alloc& a : {Alloc{&m->params_, m->params_count_}, Alloc{&m->m_, m->params_count_},
                         Alloc{&m->v_, m->params_count_}, Alloc{&m->grad_, m->params_count_},
                         Alloc{&m->frozen_, m->frozen_count_}, Alloc{&m->x_, m->batch_ * m->in_},
                         Alloc{&m->h_, bh}, Alloc{&m->a_, bh}, Alloc{&m->da_, bh}, Alloc{&m->dout_, bo},
                         Alloc{&m->sq_, bo}, Alloc{&m->loss_, 1}}) {
    if (a.n == 0) continue;
    const cudaError_t e = cudaMalloc(a.p, a.n * sizeof(float));
    if (e != cudaSuccess) {
      *error = "cudaMalloc of " + std::to_string(a.n * sizeof(float)) + " bytes: " + ErrorText(e);
      return nullptr;
    }
  }
  cudaError_t e = cudaMallocHost(&m->loss_host_, sizeof(float));
  if (e == cudaSuccess) e = cudaMemset(m->loss_, 0, sizeof(float));
  const std::vector<float>* src[] = {&init.params(), &init.exp_avg(), &init.exp_avg_sq(), &init.frozen()};
  float* dst[] = {m->params_, m->m_, m->v_, m->frozen_};
  for (int i = 0; i < 4 && e == cudaSuccess; ++i)
    if (!src[i]->empty())
      e = cudaMemcpy(dst[i], src[i]->data(), src[i]->size() * sizeof(float), cudaMemcpyHostToDevice);
  if (e != cudaSuccess) {
    *error = "upload the initial state: " + ErrorText(e);
    return nullptr;
  }
  return m;
}

MlpModelCuda::~MlpModelCuda() {
  for (float* p : {params_, m_, v_, grad_, frozen_, x_, h_, a_, da_, dout_, sq_, loss_}) (void)cudaFree(p);
  (void)cudaFreeHost(loss_host_);
}

void MlpModelCuda::ComputeGradients(uint64_t step, CUstream_st* stream) {
  const size_t bh = batch_ * hidden_;
  MakeInput<<<Blocks(batch_), kThreads, 0, stream>>>(step, batch_, in_, frozen_, rows_, x_);
  Layer1<<<Blocks(bh), kThreads, 0, stream>>>(params_, w1_, b1_, x_, batch_, in_, hidden_, h_, a_);
  Layer2<<<static_cast<unsigned>(batch_ * out_), kThreads, 0, stream>>>(params_, w2_, b2_, a_, x_, batch_, in_,
                                                                       hidden_, out_, dout_, sq_);
  LossKernel<<<1, 1, 0, stream>>>(sq_, batch_ * out_, loss_);
  GradLayer2<<<Blocks(out_ * hidden_), kThreads, 0, stream>>>(dout_, a_, batch_, hidden_, out_, w2_, b2_, grad_);
  BackHidden<<<Blocks(bh), kThreads, 0, stream>>>(params_, w2_, dout_, h_, batch_, hidden_, out_, da_);
  GradLayer1<<<Blocks((in_ + 1) * hidden_), kThreads, 0, stream>>>(x_, da_, batch_, in_, hidden_, w1_, b1_,
                                                                    grad_);
}

void MlpModelCuda::ApplyAdam(uint64_t step, CUstream_st* stream) {
  // Bias corrections on the host, exactly as mlp_model.cc computes them.
  constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f;
  const float c1 = 1.0f / (1.0f - std::pow(kBeta1, static_cast<float>(step)));
  const float c2 = 1.0f / (1.0f - std::pow(kBeta2, static_cast<float>(step)));
  AdamKernel<<<Blocks(params_count_), kThreads, 0, stream>>>(params_, m_, v_, grad_, params_count_, c1, c2);
}

float MlpModelCuda::Loss(CUstream_st* stream) {
  if (cudaMemcpyAsync(loss_host_, loss_, sizeof(float), cudaMemcpyDeviceToHost, stream) != cudaSuccess ||
      cudaStreamSynchronize(stream) != cudaSuccess)
    return std::nanf("");
  return *loss_host_;
}

std::string MlpModelCuda::ToHost(const float* src, size_t count, std::vector<float>* out) {
  out->resize(count);
  if (count == 0) return "";
  const cudaError_t e = cudaMemcpy(out->data(), src, count * sizeof(float), cudaMemcpyDeviceToHost);
  return e == cudaSuccess ? "" : ErrorText(e);
}

std::string MlpModelCuda::CheckError() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? "" : ErrorText(e);
}

}  // namespace example
