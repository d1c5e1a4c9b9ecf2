// The CUDA path of the client on a real GPU: device snapshots on a copy
// stream, the stream-ordered guard, memory kinds, restore to the device, and
// chunks flowing through a small pinned staging pool.
//
// ctest label `gpu`. Every test needs a CUDA device and skips with the reason
// where there is none (no GPU, no driver: cudaGetDeviceCount fails with
// cudaErrorInsufficientDriver) or where the build has no CUDA backend.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/build_info.h"
#include "ckpt/client.h"
#include "test_util.h"

#ifdef CKPT_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "gpu_test_kernels.h"
#endif

namespace ckpt {
namespace {

#ifdef CKPT_HAVE_CUDA

using ckpt::testing::ScratchDir;

// Empty when a GPU is usable; else why not. Any error of cudaGetDeviceCount
// means no GPU (without a driver it is cudaErrorInsufficientDriver).
std::string NoGpuReason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  }
  if (n == 0) return "cudaGetDeviceCount found no device";
  return "";
}

#define REQUIRE_GPU()                                                  \
  do {                                                                 \
    const std::string why = NoGpuReason();                             \
    if (!why.empty()) GTEST_SKIP() << "no CUDA device: " << why;       \
  } while (0)

#define CUDA_OK(expr)                                                                      \
  do {                                                                                     \
    const cudaError_t e_ = (expr);                                                         \
    ASSERT_EQ(e_, cudaSuccess) << #expr << ": " << cudaGetErrorName(e_) << " " << cudaGetErrorString(e_); \
  } while (0)

constexpr size_t kMiB = size_t{1} << 20;

Options GpuOptions(const ScratchDir& dir, size_t chunk, size_t staging) {
  Options o;
  o.store_dir = dir.Sub("store");
  o.job = "gpu";
  o.chunk_bytes = chunk;
  o.staging_bytes = staging;
  return o;
}

std::unique_ptr<Client> Open(const Options& o) {
  auto c = Client::Open(o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// Device memory freed at scope exit.
struct DeviceBuffer {
  uint32_t* p = nullptr;
  size_t words = 0;
  explicit DeviceBuffer(size_t w) : words(w) {
    if (cudaMalloc(reinterpret_cast<void**>(&p), w * 4) != cudaSuccess) p = nullptr;
  }
  ~DeviceBuffer() { (void)cudaFree(p); }
  size_t bytes() const { return words * 4; }
};

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { (void)cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking); }
  ~Stream() { (void)cudaStreamDestroy(s); }
};

std::vector<uint32_t> ToHost(const uint32_t* device, size_t words) {
  std::vector<uint32_t> out(words);
  EXPECT_EQ(cudaMemcpy(out.data(), device, words * 4, cudaMemcpyDefault), cudaSuccess);
  return out;
}

std::vector<uint32_t> Pattern(size_t words, uint32_t seed) {
  std::vector<uint32_t> v(words);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& w : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    w = x;
  }
  return v;
}

size_t CountNot(const std::vector<uint32_t>& v, uint32_t value) {
  size_t n = 0;
  for (uint32_t w : v) n += w != value;
  return n;
}

void DeviceRegionRoundTripsBitExact() {
  ScratchDir dir;
  auto c = Open(GpuOptions(dir, 1 * kMiB, 8 * kMiB));
  ASSERT_TRUE(c);
  const size_t words = 3 * kMiB / 4 + 12345;  // not whole chunks
  DeviceBuffer d(words);
  ASSERT_NE(d.p, nullptr);
  const auto want = Pattern(words, 1);
  CUDA_OK(cudaMemcpy(d.p, want.data(), d.bytes(), cudaMemcpyHostToDevice));
  Stream s;
  ASSERT_TRUE(c->protect("w", d.p, d.bytes(), ElementType::kFloat32).ok());
  auto t = c->checkpoint(1, s.s);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE(t->guard(s.s).ok());
  ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString();
  EXPECT_EQ(t->stats().logical_bytes, d.bytes());

  CUDA_OK(cudaMemset(d.p, 0xAB, d.bytes()));
  CUDA_OK(cudaDeviceSynchronize());
  auto r = c->restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(ToHost(d.p, words) == want);
}

void GuardMakesTheStreamWaitWithoutBlockingTheHost() {
  ScratchDir dir;
  // The pool holds the whole checkpoint: guard() must not wait on the host.
  auto c = Open(GpuOptions(dir, 4 * kMiB, 128 * kMiB));
  ASSERT_TRUE(c);
  const size_t words = 64 * kMiB / 4;
  DeviceBuffer d(words);
  ASSERT_NE(d.p, nullptr);
  ASSERT_TRUE(c->protect("w", d.p, d.bytes(), ElementType::kUInt32).ok());
  Stream s;
  for (uint32_t step = 1; step <= 4; ++step) {
    gpu_test::LaunchFill(d.p, words, step, s.s);
    gpu_test::LaunchSpin(200000, s.s);  // the snapshot point is 200 ms ahead
    const auto t0 = std::chrono::steady_clock::now();
    auto t = c->checkpoint(step, s.s);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_TRUE(t->guard(s.s).ok());
    const double host_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    // The copy cannot have started: the stream is still spinning.
    EXPECT_FALSE(t->copied()) << "checkpoint()+guard() waited for the copy on the host";
    EXPECT_LT(host_ms, 100.0) << "checkpoint()+guard() blocked the host";
    // The "optimizer update": overwrites the region as soon as the stream may.
    gpu_test::LaunchFill(d.p, words, 0xDEAD0000u + step, s.s);
    // Outside the measured part: let this checkpoint finish, so that the next
    // one finds the copier idle and the pool free.
    ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString();
  }
  CUDA_OK(cudaStreamSynchronize(s.s));
  ASSERT_TRUE(c->flush().ok());
  for (uint32_t step = 1; step <= 4; ++step) {
    auto r = c->restore(step);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(CountNot(ToHost(d.p, words), step), 0u)
        << "step " << step << ": words written after the guard leaked into the checkpoint";
  }
}

void PinnedPageableManagedAndDeviceRegions() {
  ScratchDir dir;
  auto c = Open(GpuOptions(dir, 1 * kMiB, 16 * kMiB));
  ASSERT_TRUE(c);
  const size_t words = 2 * kMiB / 4 + 99;
  uint32_t* pinned = nullptr;
  uint32_t* managed = nullptr;
  CUDA_OK(cudaHostAlloc(reinterpret_cast<void**>(&pinned), words * 4, cudaHostAllocDefault));
  CUDA_OK(cudaMallocManaged(reinterpret_cast<void**>(&managed), words * 4));
  std::vector<uint32_t> pageable(words);
  DeviceBuffer device(words);
  ASSERT_NE(device.p, nullptr);
  int current = 0;
  CUDA_OK(cudaGetDevice(&current));

  ASSERT_TRUE(c->protect("pinned", pinned, words * 4, ElementType::kUInt32).ok());
  ASSERT_TRUE(c->protect("pageable", pageable.data(), words * 4, ElementType::kUInt32).ok());
  ASSERT_TRUE(c->protect("managed", managed, words * 4, ElementType::kUInt32).ok());
  ASSERT_TRUE(c->protect("device", device.p, words * 4, ElementType::kUInt32).ok());
  const auto regions = c->regions();
  ASSERT_EQ(regions.size(), 4u);
  EXPECT_EQ(regions[0].memory, MemoryKind::kPinnedHost);
  EXPECT_EQ(regions[1].memory, MemoryKind::kHost);
  EXPECT_EQ(regions[2].memory, MemoryKind::kManaged);
  EXPECT_EQ(regions[3].memory, MemoryKind::kDevice);
  EXPECT_EQ(regions[3].device, current);

  Stream s;
  const auto p1 = Pattern(words, 11), p2 = Pattern(words, 12), p3 = Pattern(words, 13),
             p4 = Pattern(words, 14);
  std::memcpy(pinned, p1.data(), words * 4);
  std::memcpy(pageable.data(), p2.data(), words * 4);
  std::memcpy(managed, p3.data(), words * 4);
  CUDA_OK(cudaMemcpy(device.p, p4.data(), words * 4, cudaMemcpyHostToDevice));
  CUDA_OK(cudaDeviceSynchronize());
  auto t = c->checkpoint(5, s.s);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE(t->guard(s.s).ok());
  // Device-side writers after the guard, host writers after wait_copied().
  gpu_test::LaunchFill(device.p, words, 0xBAD, s.s);
  gpu_test::LaunchFill(managed, words, 0xBAD, s.s);
  ASSERT_TRUE(t->wait_copied().ok());
  std::memset(pinned, 0xEE, words * 4);
  std::memset(pageable.data(), 0xEE, words * 4);
  CUDA_OK(cudaStreamSynchronize(s.s));
  ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString();

  auto r = c->restore(5);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  CUDA_OK(cudaDeviceSynchronize());
  EXPECT_EQ(std::memcmp(pinned, p1.data(), words * 4), 0) << "pinned";
  EXPECT_TRUE(pageable == p2) << "pageable";
  EXPECT_EQ(std::memcmp(managed, p3.data(), words * 4), 0) << "managed";
  EXPECT_TRUE(ToHost(device.p, words) == p4) << "device";
  c.reset();
  (void)cudaFreeHost(pinned);
  (void)cudaFree(managed);
}

void RestoreCopiesHostToDeviceThroughStaging() {
  ScratchDir dir;
  const size_t words = 24 * kMiB / 4;
  DeviceBuffer d(words);
  ASSERT_NE(d.p, nullptr);
  const auto want = Pattern(words, 21);
  CUDA_OK(cudaMemcpy(d.p, want.data(), d.bytes(), cudaMemcpyHostToDevice));
  {
    auto c = Open(GpuOptions(dir, 1 * kMiB, 32 * kMiB));
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->protect("w", d.p, d.bytes(), ElementType::kUInt32).ok());
    auto t = c->checkpoint(9);  // the legacy default stream
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_TRUE(t->wait_durable().ok()) << t->status().ToString();
  }
  CUDA_OK(cudaMemset(d.p, 0, d.bytes()));
  CUDA_OK(cudaDeviceSynchronize());
  // A new client (as after a restart), with a staging pool of 3 slots for
  // 24 chunks: reads, decoding and H2D copies are pipelined through it.
  auto c = Open(GpuOptions(dir, 1 * kMiB, 3 * kMiB));
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->protect("w", d.p, d.bytes(), ElementType::kUInt32).ok());
  auto r = c->restore();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 9u);
  EXPECT_TRUE(ToHost(d.p, words) == want);
}

void ChunksFlowThroughASmallStagingPool() {
  ScratchDir dir;
  // 96 chunks through 4 slots: the copy stream and the engine overlap.
  auto c = Open(GpuOptions(dir, 1 * kMiB, 4 * kMiB));
  ASSERT_TRUE(c);
  const size_t words = 96 * kMiB / 4;
  DeviceBuffer a(words), b(words / 3);
  ASSERT_NE(a.p, nullptr);
  ASSERT_NE(b.p, nullptr);
  ASSERT_TRUE(c->protect("a", a.p, a.bytes(), ElementType::kFloat32).ok());
  ASSERT_TRUE(c->protect("b", b.p, b.bytes(), ElementType::kBytes).ok());
  Stream s;
  std::vector<Ticket> tickets;
  for (uint32_t step = 1; step <= 3; ++step) {
    gpu_test::LaunchFill(a.p, a.words, step, s.s);
    gpu_test::LaunchFill(b.p, b.words, 100 + step, s.s);
    auto t = c->checkpoint(step, s.s);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_TRUE(t->guard(s.s).ok());
    gpu_test::LaunchFill(a.p, a.words, 0xDEAD, s.s);
    gpu_test::LaunchFill(b.p, b.words, 0xDEAD, s.s);
    tickets.push_back(*t);
  }
  CUDA_OK(cudaStreamSynchronize(s.s));
  for (const auto& t : tickets) {
    ASSERT_TRUE(t.wait_durable().ok()) << t.status().ToString();
    EXPECT_EQ(t.stats().chunks, 96u + 32u);
    EXPECT_LE(t.stats().copy_seconds, t.stats().durable_seconds);
  }
  for (uint32_t step = 1; step <= 3; ++step) {
    auto r = c->restore(step);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(CountNot(ToHost(a.p, a.words), step), 0u) << "a, step " << step;
    EXPECT_EQ(CountNot(ToHost(b.p, b.words), 100 + step), 0u) << "b, step " << step;
  }
}

void CheckpointCallDoesNotSynchronize() {
  ScratchDir dir;
  auto c = Open(GpuOptions(dir, 4 * kMiB, 64 * kMiB));
  ASSERT_TRUE(c);
  DeviceBuffer d(16 * kMiB / 4);
  ASSERT_NE(d.p, nullptr);
  ASSERT_TRUE(c->protect("w", d.p, d.bytes(), ElementType::kUInt32).ok());
  EXPECT_TRUE(GetBuildInfo().cuda_backend);
  Stream s;
  // Warm up (first use creates the copy stream and events).
  auto warm = c->checkpoint(1, s.s);
  ASSERT_TRUE(warm.ok());
  ASSERT_TRUE(warm->wait_durable().ok());
  gpu_test::LaunchSpin(300000, s.s);
  const auto t0 = std::chrono::steady_clock::now();
  auto t = c->checkpoint(2, s.s);
  const double call_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(t.ok());
  EXPECT_LT(call_us, 20000.0) << "checkpoint() waited for the stream";
  EXPECT_FALSE(t->copied());
  ASSERT_TRUE(t->wait_durable().ok());
  std::printf("checkpoint(step, stream) returned in %.1f us\n", call_us);
}

#define GPU_TEST(suite, name, body) \
  TEST(suite, name) {               \
    REQUIRE_GPU();                  \
    body();                         \
  }

#else  // no CUDA backend in this build

#define GPU_TEST(suite, name, body)                                                             \
  TEST(suite, name) {                                                                           \
    GTEST_SKIP() << "no CUDA device: this build has no CUDA backend (no CUDA toolkit found, or " \
                    "configured with -DCKPT_WITH_CUDA=OFF)";                                    \
  }

#endif

GPU_TEST(GpuSnapshot, DeviceRegionRoundTripsBitExact, DeviceRegionRoundTripsBitExact)
GPU_TEST(GpuSnapshot, GuardMakesTheStreamWaitWithoutBlockingTheHost,
         GuardMakesTheStreamWaitWithoutBlockingTheHost)
GPU_TEST(GpuSnapshot, PinnedPageableManagedAndDeviceRegions, PinnedPageableManagedAndDeviceRegions)
GPU_TEST(GpuSnapshot, RestoreCopiesHostToDeviceThroughStaging, RestoreCopiesHostToDeviceThroughStaging)
GPU_TEST(GpuSnapshot, ChunksFlowThroughASmallStagingPool, ChunksFlowThroughASmallStagingPool)
GPU_TEST(GpuSnapshot, CheckpointCallDoesNotSynchronize, CheckpointCallDoesNotSynchronize)

}  // namespace
}  // namespace ckpt
