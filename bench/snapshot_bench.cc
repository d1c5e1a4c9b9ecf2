// ckpt-bench snapshot: see snapshot_bench.h.
#include "snapshot_bench.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_cli.h"
#include "bench_stats.h"
#include "ckpt/build_info.h"
#include "ckpt/client.h"

#ifdef CKPT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace ckpt::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// "1073741824", "1G", "1GiB", "256M", "64k": bytes (K/M/G/T are powers of 1024).
uint64_t ParseBytes(const std::string& text) {
  size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(text, &used);
  } catch (const std::exception&) {
    throw UsageError("--bytes: '" + text + "' is not a size (e.g. 1073741824, 512M, 4G)");
  }
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kib") shift = 10;
  else if (unit == "m" || unit == "mib") shift = 20;
  else if (unit == "g" || unit == "gib") shift = 30;
  else if (unit == "t" || unit == "tib") shift = 40;
  else throw UsageError("--bytes: unknown unit in '" + text + "' (use K, M, G or T)");
  if (n == 0) throw UsageError("--bytes must be at least 1");
  if (shift > 0 && n > (~0ULL >> shift)) throw UsageError("--bytes: '" + text + "' is too large");
  return static_cast<uint64_t>(n) << shift;
}

// A runtime failure: exit kExitRuntime with the message.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void Check(const Status& s, const std::string& what) {
  if (!s.ok()) throw BenchError(what + ": " + s.ToString());
}

struct Spec {
  std::string device;
  uint64_t bytes = 0;
  size_t chunk_bytes = 0;
  size_t staging_bytes = 0;
  int runs = 0;
  std::string store;
  bool json = false;
};

struct Report {
  std::string device;
  std::string device_name;
  double call_us = 0;      // checkpoint() call, median
  double call_p99_us = 0;  // ... its 99th percentile (nearest rank) and
  double call_max_us = 0;  // longest: a call that loses the CPU shows here
  double guard_us = -1;    // guard() call, median (cuda)
  double consistent_s = 0; // call until copied, median
  double baseline_s = 0;   // plain copy of the same bytes, median
  std::string baseline_what;
  double compute_alone_s = 0;
  double compute_during_s = 0;
  std::string compute_what;

  double snapshot_gbps(uint64_t bytes) const { return consistent_s > 0 ? bytes / consistent_s / 1e9 : 0; }
  double baseline_gbps(uint64_t bytes) const { return baseline_s > 0 ? bytes / baseline_s / 1e9 : 0; }
  double slowdown() const { return compute_alone_s > 0 ? compute_during_s / compute_alone_s - 1 : 0; }
};

// The store the bench writes: --store, or a scratch directory removed after.
class BenchStore {
 public:
  explicit BenchStore(const std::string& dir) {
    if (!dir.empty()) {
      dir_ = dir;
      return;
    }
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ckpt-snapshot-bench-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw BenchError("cannot create a scratch directory under " + tmpl);
    dir_ = std::string(buf.data()) + "/store";
    scratch_ = buf.data();
  }
  ~BenchStore() {
    std::error_code ec;
    if (!scratch_.empty()) std::filesystem::remove_all(scratch_, ec);
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, scratch_;
};

std::unique_ptr<Client> OpenClient(const Spec& spec, const BenchStore& store) {
  Options o;
  o.store_dir = store.dir();
  o.job = "snapshot-bench";
  o.chunk_bytes = spec.chunk_bytes;
  o.staging_bytes = spec.staging_bytes;
  o.compression = Compression::kOff;  // the bench is about the copy, not the codec
  auto c = Client::Open(o);
  Check(c.status(), "open the store " + store.dir());
  return std::move(c).value();
}

// A compute loop the compiler cannot drop: dependent FMAs on a few registers.
double HostCompute(uint64_t iterations) {
  volatile double sink = 0;
  double a = 1.0, b = 1.0 - 1e-9, c = 0.5;
  for (uint64_t i = 0; i < iterations; ++i) {
    a = a * b + 1e-7;
    c = c * b + a * 1e-9;
  }
  sink = a + c;
  return sink;
}

Report RunHost(const Spec& spec) {
  Report rep;
  rep.device = "host";
  rep.device_name = "host memory (pageable, pre-faulted)";
  BenchStore store(spec.store);
  std::vector<uint8_t> region(spec.bytes, 0x3C);  // written: pre-faulted
  std::vector<uint8_t> dst(spec.bytes, 0);

  std::vector<double> baseline;
  for (int r = 0; r < spec.runs; ++r) {
    const auto t0 = Clock::now();
    std::memcpy(dst.data(), region.data(), region.size());
    baseline.push_back(Since(t0));
  }
  rep.baseline_s = Median(baseline);
  rep.baseline_what = "memcpy into a pre-faulted buffer";

  auto client = OpenClient(spec, store);
  Check(client->protect("region", region.data(), region.size(), ElementType::kBytes), "protect");
  uint64_t step = 1;
  {
    auto warm = client->checkpoint(step++);
    Check(warm.status(), "checkpoint");
    Check(warm->wait_durable(), "warm-up checkpoint");
  }
  std::vector<double> call, consistent;
  for (int r = 0; r < spec.runs; ++r) {
    const auto t0 = Clock::now();
    auto t = client->checkpoint(step++);
    const double c = Since(t0);
    Check(t.status(), "checkpoint");
    Check(t->wait_copied(), "checkpoint");
    consistent.push_back(Since(t0));
    call.push_back(c);
    Check(t->wait_durable(), "checkpoint");
  }
  rep.call_us = Median(call) * 1e6;
  rep.call_p99_us = Quantile(call, 0.99) * 1e6;
  rep.call_max_us = Quantile(call, 1.0) * 1e6;
  rep.consistent_s = Median(consistent);

  // Compute while a snapshot is in flight (the copier and the engine share
  // the CPU with this loop).
  const uint64_t probe = 2000000;
  auto t0 = Clock::now();
  (void)HostCompute(probe);
  const double per_iter = std::max(1e-12, Since(t0) / probe);
  const double target = std::clamp(rep.consistent_s * 1.5, 0.05, 10.0);
  const uint64_t iters = static_cast<uint64_t>(target / per_iter);
  std::vector<double> alone, during;
  for (int r = 0; r < spec.runs; ++r) {
    t0 = Clock::now();
    (void)HostCompute(iters);
    alone.push_back(Since(t0));
    auto t = client->checkpoint(step++);
    Check(t.status(), "checkpoint");
    t0 = Clock::now();
    (void)HostCompute(iters);
    during.push_back(Since(t0));
    Check(t->wait_durable(), "checkpoint");
  }
  rep.compute_alone_s = Median(alone);
  rep.compute_during_s = Median(during);
  rep.compute_what = "a single-threaded FMA loop on the calling thread";
  return rep;
}

#ifdef CKPT_HAVE_CUDA

void CudaCheck(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess)
    throw BenchError(what + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

Report RunCuda(const Spec& spec) {
  int devices = 0;
  const cudaError_t probe = cudaGetDeviceCount(&devices);
  if (probe != cudaSuccess || devices == 0)
    throw BenchError(std::string("--device cuda: no CUDA device: ") +
                     (probe != cudaSuccess ? std::string(cudaGetErrorName(probe)) + ": " + cudaGetErrorString(probe)
                                           : "cudaGetDeviceCount found no device"));
  Report rep;
  rep.device = "cuda";
  int dev = 0;
  CudaCheck(cudaGetDevice(&dev), "cudaGetDevice");
  cudaDeviceProp prop{};
  CudaCheck(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  rep.device_name = prop.name;

  BenchStore store(spec.store);
  void* region = nullptr;
  void* pinned = nullptr;
  CudaCheck(cudaMalloc(&region, spec.bytes), "cudaMalloc of the region");
  std::unique_ptr<void, void (*)(void*)> free_region(region, [](void* p) { (void)cudaFree(p); });
  CudaCheck(cudaMemset(region, 0x3C, spec.bytes), "cudaMemset");
  CudaCheck(cudaMallocHost(&pinned, spec.bytes), "cudaMallocHost of the baseline buffer");
  std::unique_ptr<void, void (*)(void*)> free_pinned(pinned, [](void* p) { (void)cudaFreeHost(p); });
  cudaStream_t stream = nullptr;
  CudaCheck(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  std::unique_ptr<CUstream_st, void (*)(cudaStream_t)> free_stream(stream,
                                                                    [](cudaStream_t s) { (void)cudaStreamDestroy(s); });
  CudaCheck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");

  // The reference: a plain synchronous D2H copy into pinned memory.
  std::vector<double> baseline;
  CudaCheck(cudaMemcpy(pinned, region, spec.bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");  // warm-up
  for (int r = 0; r < spec.runs; ++r) {
    const auto t0 = Clock::now();
    CudaCheck(cudaMemcpy(pinned, region, spec.bytes, cudaMemcpyDeviceToHost), "cudaMemcpy");
    baseline.push_back(Since(t0));
  }
  rep.baseline_s = Median(baseline);
  rep.baseline_what = "cudaMemcpy D2H into pinned memory";

  auto client = OpenClient(spec, store);  // pins its staging pool when the region is protected
  Check(client->protect("region", region, spec.bytes, ElementType::kBytes), "protect");
  uint64_t step = 1;
  {
    auto warm = client->checkpoint(step++, stream);  // creates the copy stream and events
    Check(warm.status(), "checkpoint");
    Check(warm->wait_durable(), "warm-up checkpoint");
  }
  std::vector<double> call, guard, consistent;
  for (int r = 0; r < spec.runs; ++r) {
    CudaCheck(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    const auto t0 = Clock::now();
    auto t = client->checkpoint(step++, stream);
    const double c = Since(t0);
    Check(t.status(), "checkpoint");
    const auto t1 = Clock::now();
    Check(t->guard(stream), "guard");
    const double g = Since(t1);
    Check(t->wait_copied(), "checkpoint");
    consistent.push_back(Since(t0));
    call.push_back(c);
    guard.push_back(g);
    Check(t->wait_durable(), "checkpoint");
  }
  rep.call_us = Median(call) * 1e6;
  rep.call_p99_us = Quantile(call, 0.99) * 1e6;
  rep.call_max_us = Quantile(call, 1.0) * 1e6;
  rep.guard_us = Median(guard) * 1e6;
  rep.consistent_s = Median(consistent);

  // A compute-bound kernel filling the GPU, alone and with a snapshot in
  // flight on the copy stream.
  const int blocks = std::max(1, prop.multiProcessorCount) * 8;
  float* out = nullptr;
  CudaCheck(cudaMalloc(reinterpret_cast<void**>(&out), static_cast<size_t>(blocks) * 256 * sizeof(float)),
            "cudaMalloc");
  std::unique_ptr<float, void (*)(float*)> free_out(out, [](float* p) { (void)cudaFree(p); });
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  CudaCheck(cudaEventCreate(&e0), "cudaEventCreate");
  CudaCheck(cudaEventCreate(&e1), "cudaEventCreate");
  auto kernel_seconds = [&](uint64_t iters, bool with_snapshot) {
    CudaCheck(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    std::optional<Ticket> t;
    if (with_snapshot) {
      auto ticket = client->checkpoint(step++, stream);
      Check(ticket.status(), "checkpoint");
      t = *ticket;
    }
    CudaCheck(cudaEventRecord(e0, stream), "cudaEventRecord");
    LaunchBusyKernel(out, iters, blocks, stream);
    CudaCheck(cudaGetLastError(), "launch the compute kernel");
    CudaCheck(cudaEventRecord(e1, stream), "cudaEventRecord");
    CudaCheck(cudaEventSynchronize(e1), "cudaEventSynchronize");
    float ms = 0;
    CudaCheck(cudaEventElapsedTime(&ms, e0, e1), "cudaEventElapsedTime");
    if (t) Check(t->wait_durable(), "checkpoint");
    return ms / 1e3;
  };
  const uint64_t probe_iters = 100000;
  (void)kernel_seconds(probe_iters, false);  // warm-up
  const double per_iter = std::max(1e-12, kernel_seconds(probe_iters, false) / probe_iters);
  const double target = std::clamp(rep.consistent_s * 1.5, 0.02, 10.0);
  const uint64_t iters = std::max<uint64_t>(1, static_cast<uint64_t>(target / per_iter));
  std::vector<double> alone, during;
  for (int r = 0; r < spec.runs; ++r) {
    alone.push_back(kernel_seconds(iters, false));
    during.push_back(kernel_seconds(iters, true));
  }
  (void)cudaEventDestroy(e0);
  (void)cudaEventDestroy(e1);
  rep.compute_alone_s = Median(alone);
  rep.compute_during_s = Median(during);
  rep.compute_what = "an FMA-bound kernel, " + std::to_string(blocks) + " blocks x 256 threads, on the caller's stream";
  return rep;
}

#endif  // CKPT_HAVE_CUDA

std::string Mib(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / 1048576.0);
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

void Print(const Spec& spec, const Report& r) {
  const double ratio = r.baseline_gbps(spec.bytes) > 0 ? r.snapshot_gbps(spec.bytes) / r.baseline_gbps(spec.bytes) : 0;
  if (spec.json) {
    std::printf(
        "{\"bench\": \"snapshot\", \"device\": %s, \"device_name\": %s, \"bytes\": %llu, \"chunk_bytes\": %zu, "
        "\"staging_bytes\": %zu, \"runs\": %d, \"call_us\": %.3f, \"call_p99_us\": %.3f, \"call_max_us\": %.3f, "
        "\"guard_us\": %s, \"consistent_s\": %.6f, "
        "\"snapshot_gbps\": %.3f, \"baseline\": %s, \"baseline_s\": %.6f, \"baseline_gbps\": %.3f, "
        "\"snapshot_vs_baseline\": %.4f, \"compute\": %s, \"compute_alone_s\": %.6f, "
        "\"compute_during_snapshot_s\": %.6f, \"compute_slowdown\": %.4f}\n",
        JsonString(r.device).c_str(), JsonString(r.device_name).c_str(), static_cast<unsigned long long>(spec.bytes),
        spec.chunk_bytes, spec.staging_bytes, spec.runs, r.call_us, r.call_p99_us, r.call_max_us,
        r.guard_us < 0 ? "null" : std::to_string(r.guard_us).c_str(), r.consistent_s, r.snapshot_gbps(spec.bytes),
        JsonString(r.baseline_what).c_str(), r.baseline_s, r.baseline_gbps(spec.bytes), ratio,
        JsonString(r.compute_what).c_str(), r.compute_alone_s, r.compute_during_s, r.slowdown());
    return;
  }
  std::printf("snapshot bench: %s (%s), %s, chunk %s, staging %s, medians of %d runs\n", r.device.c_str(),
              r.device_name.c_str(), Mib(spec.bytes).c_str(), Mib(spec.chunk_bytes).c_str(),
              Mib(spec.staging_bytes).c_str(), spec.runs);
  std::printf("  checkpoint() blocks the caller    %10.1f us  (p99 %.1f us, longest %.1f us)\n", r.call_us,
              r.call_p99_us, r.call_max_us);
  if (r.guard_us >= 0) std::printf("  guard() blocks the caller         %10.1f us\n", r.guard_us);
  std::printf("  consistent in host memory after   %10.3f ms  (%.2f GB/s)\n", r.consistent_s * 1e3,
              r.snapshot_gbps(spec.bytes));
  std::printf("  %-33s %10.3f ms  (%.2f GB/s); the snapshot reaches %.1f%% of it\n", r.baseline_what.c_str(),
              r.baseline_s * 1e3, r.baseline_gbps(spec.bytes), ratio * 100);
  std::printf("  compute alone                     %10.3f ms  (%s)\n", r.compute_alone_s * 1e3,
              r.compute_what.c_str());
  std::printf("  compute with a snapshot in flight %10.3f ms  (%+.1f%%)\n", r.compute_during_s * 1e3,
              r.slowdown() * 100);
}

}  // namespace

int RunSnapshotBench(const std::vector<std::string>& args) {
  po::options_description options("Options");
  std::string bytes_text;
  uint64_t chunk_kb = 0, staging_mb = 0;
  Spec spec;
  options.add_options()
      ("device", po::value(&spec.device)->default_value("host"), "cuda (device memory, stream-ordered) or host")
      ("bytes", po::value(&bytes_text)->default_value("256M"), "bytes to snapshot (suffixes K, M, G, T: powers of 1024)")
      ("chunk-kb", po::value(&chunk_kb)->default_value(4096), "chunk size in KiB (Options::chunk_bytes)")
      ("staging-mb", po::value(&staging_mb)->default_value(0),
       "staging pool in MiB; 0 = large enough for the whole snapshot")
      ("runs", po::value(&spec.runs)->default_value(5), "runs per measurement (medians are reported)")
      ("store", po::value(&spec.store), "store directory to write (default: a scratch directory, removed after)")
      ("json", po::bool_switch(&spec.json), "one JSON object instead of text");
  po::variables_map vm;
  if (ParseBenchCommandLine(
          "ckpt-bench snapshot: how long a snapshot blocks the caller, how fast it is consistent in host\n"
          "memory against a plain copy of the same bytes, and how much it slows compute running meanwhile.\n\n"
          "Usage: ckpt-bench snapshot --device cuda|host --bytes N [--json]",
          options, args, vm))
    return kExitOk;
  if (spec.device != "cuda" && spec.device != "host")
    throw UsageError("--device must be cuda or host, not '" + spec.device + "'");
  spec.bytes = ParseBytes(bytes_text);
  if (spec.runs < 1) throw UsageError("--runs must be at least 1");
  if (chunk_kb < 64 || chunk_kb > (256 << 10) || chunk_kb % 4 != 0)
    throw UsageError("--chunk-kb must be a multiple of 4 between 64 and 262144");
  spec.chunk_bytes = static_cast<size_t>(chunk_kb) << 10;
  const size_t chunks = (spec.bytes + spec.chunk_bytes - 1) / std::max<size_t>(spec.chunk_bytes, 1);
  spec.staging_bytes = staging_mb > 0 ? static_cast<size_t>(staging_mb) << 20 : chunks * spec.chunk_bytes;

  try {
    Report report;
    if (spec.device == "host") {
      report = RunHost(spec);
    } else {
#ifdef CKPT_HAVE_CUDA
      report = RunCuda(spec);
#else
      throw BenchError("--device cuda: this build has no CUDA backend (no CUDA toolkit at build time, or "
                       "-DCKPT_WITH_CUDA=OFF)");
#endif
    }
    Print(spec, report);
  } catch (const BenchError& e) {
    std::cerr << "ckpt-bench snapshot: " << e.what() << "\n";
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace ckpt::bench
