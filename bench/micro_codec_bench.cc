// Micro benchmarks of the per-chunk work on one core: content hash, byte-plane
// split and each compression mode on float32 weights, with plain zstd level 1
// on the raw bytes as the baseline. Run with --benchmark_format=json. Real
// training data: `ckpt-bench codec` (docs/compression.md).
#include <benchmark/benchmark.h>

#include <zstd.h>

#include <random>
#include <vector>

#include "engine/chunk_codec.h"
#include "engine/chunk_hash.h"

namespace {

constexpr size_t kChunk = size_t{4} << 20;

std::vector<uint8_t> Weights() {
  std::vector<float> w(kChunk / sizeof(float));
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 0.02f);
  for (auto& v : w) v = d(rng);
  std::vector<uint8_t> out(kChunk);
  __builtin_memcpy(out.data(), w.data(), kChunk);
  return out;
}

void BM_HashChunk(benchmark::State& state) {
  auto data = Weights();
  for (auto _ : state) benchmark::DoNotOptimize(ckpt::HashChunk(data.data(), data.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
}
BENCHMARK(BM_HashChunk);

void BM_Memcpy(benchmark::State& state) {  // the baseline every stage is compared with
  auto data = Weights();
  std::vector<uint8_t> dst(kChunk, 1);
  for (auto _ : state) {
    __builtin_memcpy(dst.data(), data.data(), kChunk);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
}
BENCHMARK(BM_Memcpy);

void BM_SplitBytePlanes(benchmark::State& state) {
  auto data = Weights();
  std::vector<uint8_t> out(kChunk);
  for (auto _ : state) {
    ckpt::SplitBytePlanes(data.data(), kChunk, 4, out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
}
BENCHMARK(BM_SplitBytePlanes);

void BM_EncodeFloat32(benchmark::State& state) {
  auto data = Weights();
  ckpt::ChunkEncoder enc(ckpt::Compression::kZstd, static_cast<int>(state.range(0)));
  size_t stored = 0;
  for (auto _ : state) {
    auto r = enc.Encode(data.data(), kChunk, 4);
    stored = r->payload.size();
    benchmark::DoNotOptimize(stored);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
  state.counters["ratio"] = static_cast<double>(kChunk) / static_cast<double>(stored);
}
BENCHMARK(BM_EncodeFloat32)->Arg(1)->Arg(3);

// kAuto: only the planes whose sample pays (the exponent plane) are compressed.
void BM_EncodeFloat32Auto(benchmark::State& state) {
  auto data = Weights();
  ckpt::ChunkEncoder enc(ckpt::Compression::kAuto, 1);
  size_t stored = 0;
  for (auto _ : state) {
    auto r = enc.Encode(data.data(), kChunk, 4);
    stored = r->payload.size();
    benchmark::DoNotOptimize(stored);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
  state.counters["ratio"] = static_cast<double>(kChunk) / static_cast<double>(stored);
}
BENCHMARK(BM_EncodeFloat32Auto);

// The baseline: zstd level 1 on the raw bytes, no plane split.
void BM_PlainZstd1Float32(benchmark::State& state) {
  auto data = Weights();
  std::vector<uint8_t> out(ZSTD_compressBound(kChunk));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  size_t stored = 0;
  for (auto _ : state) {
    stored = ZSTD_compressCCtx(cctx, out.data(), out.size(), data.data(), kChunk, 1);
    benchmark::DoNotOptimize(stored);
  }
  ZSTD_freeCCtx(cctx);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChunk));
  state.counters["ratio"] = static_cast<double>(kChunk) / static_cast<double>(stored);
}
BENCHMARK(BM_PlainZstd1Float32);

}  // namespace

BENCHMARK_MAIN();
