// ckpt-bench io: see io_bench.h.
#include "io_bench.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_cli.h"
#include "bench_stats.h"
#include "ckpt/client.h"
#include "engine/chunk_codec.h"
#include "io_data.h"
#include "io_limits.h"

namespace ckpt::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds (user + system) this process has used, all threads: what a
// phase costs the single core this bench shares with the rest of the machine.
double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

// "1073741824", "1G", "512M", "64k" (K/M/G/T are powers of 1024).
uint64_t ParseSize(const std::string& flag, const std::string& text) {
  size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(text, &used);
  } catch (const std::exception&) {
    throw UsageError(flag + ": '" + text + "' is not a size (e.g. 1073741824, 512M, 4G)");
  }
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kib") shift = 10;
  else if (unit == "m" || unit == "mib") shift = 20;
  else if (unit == "g" || unit == "gib") shift = 30;
  else if (unit == "t" || unit == "tib") shift = 40;
  else throw UsageError(flag + ": unknown unit in '" + text + "' (use K, M, G or T)");
  if (n == 0) throw UsageError(flag + " must be at least 1");
  if (shift > 0 && n > (~0ULL >> shift)) throw UsageError(flag + ": '" + text + "' is too large");
  return static_cast<uint64_t>(n) << shift;
}

class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void Check(const Status& s, const std::string& what) {
  if (!s.ok()) throw BenchError(what + ": " + s.ToString());
}

struct Spec {
  uint64_t bytes = 0;
  bool bytes_given = false;
  std::string dir;
  std::string data;
  std::string compression;
  double change_fraction = 0.1;
  size_t chunk_bytes = 0;
  size_t staging_bytes = 0;
  std::string cache_drop;
  // Compressed runs: the full checkpoint against its baseline, this many
  // times. One pair is as noisy as the disk (±20% here, while kAuto gains
  // about 10% on real snapshots), so about one pair in five comes out above
  // 1 whatever the engine does; nine pairs give a run's figure a standard
  // deviation of about 0.05 (docs/performance.md).
  unsigned pairs = 9;
  // The restore and the reference read, this many times, alternating: one
  // read is as noisy as the disk (±30% here), and restore_vs_limit_read is
  // the ratio of their medians.
  unsigned restores = 3;
  bool json = false;
  bool progress = false;
};

void Progress(const Spec& spec, const std::string& what) {
  if (spec.progress) std::fprintf(stderr, "ckpt-bench io: %s\n", what.c_str());
}

// VmRSS / VmHWM of this process, bytes.
uint64_t ProcStatus(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(k, 0) == 0) return std::stoull(line.substr(k.size())) * 1024;
  return 0;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false where refused.
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// The working directory: --dir, or a scratch folder under $TMPDIR (or /tmp)
// removed after the run. Everything the bench writes goes below it.
class WorkDir {
 public:
  explicit WorkDir(const std::string& dir) {
    std::string base = dir;
    if (base.empty()) {
      const char* t = std::getenv("TMPDIR");
      base = t && *t ? t : "/tmp";
    }
    std::error_code ec;
    fs::create_directories(base, ec);
    std::string tmpl = base + "/ckpt-io-bench-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw BenchError("cannot create a folder under " + base);
    path_ = buf.data();
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct RegionRatio {
  std::string name, type;
  uint64_t bytes = 0, encoded = 0, zstd1_raw = 0;
};

// What the engine's encoder makes of each region, computed here with the
// same ChunkEncoder over the same chunks (the engine reports only totals).
std::vector<RegionRatio> EncodeRegions(const BenchData& data, const Spec& spec, Compression compression) {
  ChunkEncoder encoder(compression, 1);
  ChunkEncoder plain(Compression::kZstd, 1);
  std::vector<RegionRatio> out;
  for (const auto& r : data.regions) {
    RegionRatio rr{r.name, std::string(ElementTypeName(r.type)), r.bytes(), 0, 0};
    for (size_t off = 0; off < r.bytes(); off += spec.chunk_bytes) {
      const size_t n = std::min<size_t>(spec.chunk_bytes, r.bytes() - off);
      auto e = encoder.Encode(r.memory->data() + off, n, ElementSize(r.type));
      Check(e.status(), "encode region " + r.name);
      rr.encoded += e->payload.size();
      auto p = plain.Encode(r.memory->data() + off, n, 1);  // element size 1: no byte planes
      Check(p.status(), "encode region " + r.name);
      rr.zstd1_raw += p->payload.size();
    }
    out.push_back(rr);
  }
  return out;
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

Options ClientOptions(const Spec& spec, const std::string& store_dir, Compression compression) {
  Options o;
  o.store_dir = store_dir;
  o.job = "io-bench";
  o.chunk_bytes = spec.chunk_bytes;
  o.staging_bytes = spec.staging_bytes;
  o.compression = compression;
  return o;
}

// A fresh client in a fresh store checkpoints the data's regions once (only
// the first `cap` bytes of the first region when cap > 0); returns the
// seconds until durable. The store is removed after.
double CheckpointOnce(const Options& o, const BenchData& data, uint64_t cap = 0) {
  double seconds = 0;
  {
    auto opened = Client::Open(o);
    Check(opened.status(), "open the store " + o.store_dir);
    std::unique_ptr<Client> client = std::move(opened).value();
    for (const auto& r : data.regions) {
      Check(client->protect(r.name, r.memory->data(), cap > 0 ? std::min<uint64_t>(cap, r.bytes()) : r.bytes(),
                            cap > 0 ? ElementType::kBytes : r.type),
            "protect");
      if (cap > 0) break;
    }
    const auto t0 = Clock::now();
    auto t = client->checkpoint(1);
    Check(t.status(), "checkpoint");
    Check(t->wait_durable(), "checkpoint in " + o.store_dir);
    seconds = Since(t0);
  }
  fs::remove_all(o.store_dir);
  return seconds;
}

// The baseline of a compressed run, in the same run: how long the same full
// checkpoint takes to become durable uncompressed. A one-chunk checkpoint
// first pays what the first checkpoint of a process pays once (catalog,
// threads, rings), so that neither measurement carries it.
double DurableUncompressed(const Spec& spec, const BenchData& data, const WorkDir& work) {
  const Options o = ClientOptions(spec, work.Sub("store-off"), Compression::kOff);
  (void)CheckpointOnce(o, data, spec.chunk_bytes);
  return CheckpointOnce(o, data);
}

// Pairs 2..N of a compressed run (--pairs): the same full checkpoint
// uncompressed, then with the run's compression, each by a fresh client in a
// fresh store, alternating, so that the machine's drift between the two
// measurements falls on both alike. Returns {uncompressed, compressed}
// seconds until durable per pair.
std::vector<std::pair<double, double>> MorePairs(const Spec& spec, const BenchData& data, const WorkDir& work,
                                                 Compression compression) {
  std::vector<std::pair<double, double>> pairs;
  for (unsigned i = 2; i <= spec.pairs; ++i) {
    Progress(spec, "pair " + std::to_string(i) + " of " + std::to_string(spec.pairs) +
                       ": the full checkpoint uncompressed, then " + spec.compression);
    const double off = CheckpointOnce(ClientOptions(spec, work.Sub("store-off"), Compression::kOff), data);
    const double mode = CheckpointOnce(ClientOptions(spec, work.Sub("store-pair"), compression), data);
    pairs.emplace_back(off, mode);
  }
  return pairs;
}

Json Run(const Spec& spec) {
  const Compression compression = spec.compression == "off" ? Compression::kOff
                                  : spec.compression == "on" ? Compression::kZstd
                                                             : Compression::kAuto;
  WorkDir work(spec.dir);
  Progress(spec, "preparing the data (" + spec.data + ")");
  BenchData data = MakeData(spec.data, spec.bytes, spec.bytes_given, 1);
  const uint64_t total = data.total_bytes();
  std::vector<Span> spans;
  for (const auto& r : data.regions) spans.push_back({r.memory->data(), r.bytes()});

  Json j;
  j["bench"] = "io";
  j["data"] = spec.data;
  j["compression"] = spec.compression;
  j["bytes"] = total;
  j["chunk_bytes"] = spec.chunk_bytes;

  // References, on the same filesystem.
  Progress(spec, "limit: io_uring O_DIRECT write of " + std::to_string(total >> 20) + " MiB");
  const std::string limit_file = work.Sub("limit.bin");
  double cpu0 = CpuSeconds();
  const LimitResult lw = UringWriteLimit(limit_file, spans);
  const double limit_write_cpu = CpuSeconds() - cpu0;
  // The file stays until the restore: it is read back right after it, so
  // that both reads meet the same disk (files written a while before, caches
  // dropped) rather than the reference reading what it wrote a moment ago.
  Progress(spec, "naive: write() + fsync");
  const std::string naive_file = work.Sub("naive.bin");
  const double naive_s = NaiveWriteFsync(naive_file, spans);
  (void)DropFileCache(naive_file);
  fs::remove(naive_file);

  double off_durable_s = 0;
  std::vector<std::pair<double, double>> more_pairs;
  if (compression != Compression::kOff) {
    Progress(spec, "baseline: the full checkpoint uncompressed");
    off_durable_s = DurableUncompressed(spec, data, work);
    // Before the engine's own run, while the regions hold the data it
    // checkpoints in full.
    more_pairs = MorePairs(spec, data, work, compression);
  }

  // The engine.
  const uint64_t rss_before_open = ProcStatus("VmRSS");
  const Options o = ClientOptions(spec, work.Sub("store"), compression);
  auto opened = Client::Open(o);
  Check(opened.status(), "open the store " + o.store_dir);
  std::unique_ptr<Client> client = std::move(opened).value();
  // Client::Open's rounding: whole chunks, at least two.
  const uint64_t pool_bytes =
      std::max<uint64_t>(2, (spec.staging_bytes + spec.chunk_bytes - 1) / spec.chunk_bytes) * spec.chunk_bytes;
  const uint64_t rss_after_open = ProcStatus("VmRSS");
  for (const auto& r : data.regions) Check(client->protect(r.name, r.memory->data(), r.bytes(), r.type), "protect");
  // The copy restore() is checked against, allocated (and faulted in) before
  // the peak is reset so that it does not count as growth.
  std::vector<std::unique_ptr<PageBuffer>> expected;
  for (const auto& r : data.regions) expected.push_back(std::make_unique<PageBuffer>(r.bytes()));
  const bool peak_reset = ResetPeakRss();
  const uint64_t rss_at_reset = ProcStatus("VmRSS");

  struct Measured {
    double stall_s = 0, copied_s = 0, durable_s = 0, cpu_s = 0;
    CheckpointStats stats;
  };
  auto checkpoint = [&](uint64_t step) {
    Measured m;
    const double c0 = CpuSeconds();
    const auto t0 = Clock::now();
    auto t = client->checkpoint(step);
    m.stall_s = Since(t0);
    Check(t.status(), "checkpoint");
    Check(t->wait_copied(), "checkpoint " + std::to_string(step));
    m.copied_s = Since(t0);
    Check(t->wait_durable(), "checkpoint " + std::to_string(step));
    m.durable_s = Since(t0);
    m.cpu_s = CpuSeconds() - c0;
    m.stats = t->stats();
    return m;
  };
  Progress(spec, "checkpoint 1: full");
  const Measured full = checkpoint(1);

  Progress(spec, "per-region encoded sizes");
  const auto ratios = EncodeRegions(data, spec, compression);

  size_t changed = 0;
  double change_fraction = spec.change_fraction;
  size_t chunks = 0;
  for (const auto& r : data.regions) chunks += (r.bytes() + spec.chunk_bytes - 1) / spec.chunk_bytes;
  if (!data.next_files.empty()) {
    Progress(spec, "loading the next snapshot");
    changed = LoadNextSnapshot(data, spec.chunk_bytes);
    change_fraction = static_cast<double>(changed) / static_cast<double>(chunks);
  } else {
    changed = ChangeChunks(data, spec.chunk_bytes, spec.change_fraction);
  }
  Progress(spec, "checkpoint 2: incremental, " + std::to_string(changed) + " of " + std::to_string(chunks) +
                     " chunks changed");
  const Measured inc = checkpoint(2);

  // Restore into scribbled regions, then compare with a copy of what was
  // saved; then read the reference file likewise. Both reads meet the disk
  // alike: files written seconds before, caches dropped.
  for (size_t i = 0; i < data.regions.size(); ++i)
    std::memcpy(expected[i]->data(), data.regions[i].memory->data(), data.regions[i].bytes());
  bool fadvised = spec.cache_drop != "none";
  bool dropped_all = false;
  std::vector<double> restore_times, read_times;
  double restore_cpu = 0;  // of the first restore
  uint64_t peak = 0;       // over the checkpoints and the first restore
  bool limit_direct_io = true;
  for (unsigned k = 1; k <= spec.restores; ++k) {
    for (const auto& r : data.regions) std::memset(r.memory->data(), 0x5A, r.bytes());
    if (spec.cache_drop != "none")
      for (const auto& e : fs::directory_iterator(o.store_dir + "/segments")) fadvised &= DropFileCache(e.path());
    dropped_all = spec.cache_drop == "all" && DropAllCaches();
    const std::string of = spec.restores > 1 ? " " + std::to_string(k) + " of " + std::to_string(spec.restores) : "";
    Progress(spec, "restore" + of);
    cpu0 = CpuSeconds();
    const auto t0 = Clock::now();
    auto restored = client->restore(2);
    restore_times.push_back(Since(t0));
    if (k == 1) restore_cpu = CpuSeconds() - cpu0;
    Check(restored.status(), "restore");
    for (size_t i = 0; i < data.regions.size(); ++i) {
      const auto& r = data.regions[i];
      if (std::memcmp(r.memory->data(), expected[i]->data(), r.bytes()) != 0) {
        size_t at = 0;
        while (r.memory->data()[at] == expected[i]->data()[at]) ++at;
        throw BenchError("restore is WRONG: region '" + r.name + "' differs from the checkpointed bytes at offset " +
                         std::to_string(at));
      }
    }
    if (k == 1) peak = ProcStatus("VmHWM");
    (void)DropFileCache(limit_file);
    Progress(spec, "limit: io_uring O_DIRECT read" + of);
    const LimitResult lr = UringReadLimit(limit_file);
    read_times.push_back(lr.seconds);
    limit_direct_io &= lr.direct_io;
  }
  client.reset();
  fs::remove(limit_file);
  const double restore_s = Median(restore_times);
  const double limit_read_s = Median(read_times);

  j["chunks"] = chunks;
  j["stall_s"] = std::max(full.stall_s, inc.stall_s);
  j["copied_s"] = full.copied_s;
  j["durable_s"] = full.durable_s;
  j["written_bytes"] = full.stats.written_bytes;
  j["restore_s"] = restore_s;
  j["restore_verified"] = true;
  Json restores = Json::array();
  for (size_t k = 0; k < restore_times.size(); ++k)
    restores.push_back({{"restore_s", restore_times[k]}, {"limit_read_s", read_times[k]},
                        {"restore_vs_limit_read", Ratio(restore_times[k], read_times[k])}});
  j["restores"] = restores;
  j["cache_dropped"] = dropped_all ? "drop_caches (all page cache)"
                       : fadvised  ? "posix_fadvise DONTNEED on the segment files"
                                   : "no (not permitted)";
  j["cpu_s"] = {{"durable", full.cpu_s},
                {"incremental", inc.cpu_s},
                {"restore", restore_cpu},
                {"limit_write", limit_write_cpu},
                {"note", "CPU seconds (user+system, all threads) of each phase"}};
  if (compression != Compression::kOff) j["off_durable_s"] = off_durable_s;
  uint64_t zstd1_raw = 0;
  for (const auto& r : ratios) zstd1_raw += r.zstd1_raw;
  j["zstd1_raw_bytes"] = zstd1_raw;
  j["limit_write_s"] = lw.seconds;
  j["limit_read_s"] = limit_read_s;
  j["limit_direct_io"] = lw.direct_io && limit_direct_io;
  j["naive_s"] = naive_s;
  j["incremental"] = {{"change_fraction", change_fraction},
                      {"changed_chunks", changed},
                      {"stall_s", inc.stall_s},
                      {"copied_s", inc.copied_s},
                      {"durable_s", inc.durable_s},
                      {"written_bytes", inc.stats.written_bytes},
                      {"new_chunks", inc.stats.new_chunks}};
  j["ratios"] = {{"stall_vs_naive", Ratio(j["stall_s"], naive_s)},
                 {"durable_vs_limit_write", Ratio(full.durable_s, lw.seconds)},
                 {"restore_vs_limit_read", Ratio(restore_s, limit_read_s)},
                 {"written_vs_bytes", Ratio(static_cast<double>(full.stats.written_bytes), static_cast<double>(total))},
                 {"incremental_bytes_vs_full", Ratio(static_cast<double>(inc.stats.written_bytes),
                                                     static_cast<double>(full.stats.written_bytes))},
                 {"incremental_time_vs_full", Ratio(inc.durable_s, full.durable_s)},
                 {"written_vs_zstd1_raw", Ratio(static_cast<double>(full.stats.written_bytes),
                                                static_cast<double>(zstd1_raw))}};
  if (compression != Compression::kOff) {
    // Pair 1: the baseline and the engine's full checkpoint above; pairs
    // 2..N: MorePairs. The ratio is the median time against the median time
    // uncompressed: within a run the two times of a pair vary mostly apart
    // (correlation 0.34 over 477 pairs of real snapshots here), so a pair's
    // ratio carries both noises and a run's median of those ratios wanders
    // more (docs/performance.md). The median of the pairs' ratios is
    // reported beside it.
    Json pairs = Json::array();
    std::vector<double> ratios_of_pairs, offs, modes;
    auto add = [&](double off, double mode) {
      ratios_of_pairs.push_back(Ratio(mode, off));
      offs.push_back(off);
      modes.push_back(mode);
      pairs.push_back({{"off_durable_s", off}, {"durable_s", mode}, {"durable_vs_off", ratios_of_pairs.back()}});
    };
    add(off_durable_s, full.durable_s);
    for (const auto& [off, mode] : more_pairs) add(off, mode);
    j["pairs"] = pairs;
    j["ratios"]["durable_vs_off"] = Ratio(Median(modes), Median(offs));
    j["ratios"]["durable_vs_off_median_pair"] = Median(ratios_of_pairs);
    j["pairs_faster_than_off"] =
        std::count_if(ratios_of_pairs.begin(), ratios_of_pairs.end(), [](double r) { return r < 1; });
  }
  Json regions = Json::array();
  for (const auto& r : ratios)
    regions.push_back({{"name", r.name},
                       {"type", r.type},
                       {"bytes", r.bytes},
                       {"encoded_bytes", r.encoded},
                       {"ratio", Ratio(static_cast<double>(r.bytes), static_cast<double>(r.encoded))},
                       {"zstd1_raw_bytes", r.zstd1_raw},
                       {"zstd1_raw_ratio", Ratio(static_cast<double>(r.bytes), static_cast<double>(r.zstd1_raw))}});
  j["regions"] = regions;
  j["regions_note"] =
      "encoded_bytes: the engine's ChunkEncoder run by the bench over the full checkpoint's chunks with this "
      "--compression, every chunk considered (what the engine writes with auto also depends on the disk's pace: "
      "written_bytes); zstd1_raw_bytes: zstd level 1 on the raw bytes (no byte planes) for comparison";
  const uint64_t growth = peak > rss_at_reset ? peak - rss_at_reset : 0;
  // Allowance for what is not staging: catalog (RocksDB), the segment
  // writer's buffers and the restore's read buffers.
  const uint64_t allowance = uint64_t{64} << 20;
  j["memory"] = {{"staging_pool_bytes", pool_bytes},
                 {"rss_open_delta_bytes", rss_after_open > rss_before_open ? rss_after_open - rss_before_open : 0},
                 {"peak_rss_growth_bytes", growth},
                 {"peak_measured", peak_reset},
                 {"within_pool", peak_reset && growth <= allowance},
                 {"note", "staging is allocated and pre-faulted once at open (rss_open_delta_bytes); "
                          "peak_rss_growth_bytes is VmHWM during both checkpoints and the first restore minus VmRSS "
                          "before them: within_pool means it stayed under 64 MiB (catalog, I/O buffers), i.e. "
                          "staging never grew past the pool"}};
  return j;
}

std::string Mib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", bytes / 1048576.0);
  return b;
}

void PrintTable(const Json& j) {
  const double bytes = j["bytes"];
  auto gbps = [&](double s) { return s > 0 ? bytes / s / 1e9 : 0.0; };
  std::printf("io bench: %s, %s, compression %s, chunk %s\n", Mib(bytes).c_str(),
              j["data"].get<std::string>().c_str(), j["compression"].get<std::string>().c_str(),
              Mib(j["chunk_bytes"].get<double>()).c_str());
  std::printf("  %-34s %10s %9s %s\n", "measure", "seconds", "GB/s", "vs reference");
  const auto& r = j["ratios"];
  std::printf("  %-34s %10.6f %9s %.4f of naive\n", "stall (longest checkpoint() call)", j["stall_s"].get<double>(),
              "", r["stall_vs_naive"].get<double>());
  std::printf("  %-34s %10.3f %9.2f\n", "copied (snapshot staged)", j["copied_s"].get<double>(),
              gbps(j["copied_s"]));
  std::printf("  %-34s %10.3f %9.2f %.2f x limit write\n", "durable", j["durable_s"].get<double>(),
              gbps(j["durable_s"]), r["durable_vs_limit_write"].get<double>());
  std::printf("  %-34s %10.3f %9.2f %.2f x limit read (cache: %s)\n", "restore (verified bit-exact)",
              j["restore_s"].get<double>(), gbps(j["restore_s"]), r["restore_vs_limit_read"].get<double>(),
              j["cache_dropped"].get<std::string>().c_str());
  if (j["restores"].size() > 1) {
    std::printf("  %-34s restore and limit read %zu times, alternating; the medians above; one by one (",
                "", j["restores"].size());
    for (size_t i = 0; i < j["restores"].size(); ++i)
      std::printf("%s%.2f", i ? ", " : "", j["restores"][i]["restore_vs_limit_read"].get<double>());
    std::printf(")\n");
  }
  std::printf("  %-34s %10.3f %9.2f\n", "limit write (uring, O_DIRECT, qd16)", j["limit_write_s"].get<double>(),
              gbps(j["limit_write_s"]));
  std::printf("  %-34s %10.3f %9.2f\n", "limit read (uring, O_DIRECT, qd16)", j["limit_read_s"].get<double>(),
              gbps(j["limit_read_s"]));
  std::printf("  %-34s %10.3f %9.2f\n", "naive write()+fsync", j["naive_s"].get<double>(), gbps(j["naive_s"]));
  if (j.contains("off_durable_s")) {
    std::printf("  %-34s %10.3f %9.2f durable is %.2f x this", "baseline: durable uncompressed",
                j["off_durable_s"].get<double>(), gbps(j["off_durable_s"]), j["pairs"][0]["durable_vs_off"].get<double>());
    if (j["pairs"].size() > 1) {
      std::printf("; over %zu pairs, median time %.2f x the median uncompressed; pair by pair (", j["pairs"].size(),
                  r["durable_vs_off"].get<double>());
      for (size_t i = 0; i < j["pairs"].size(); ++i)
        std::printf("%s%.2f", i ? ", " : "", j["pairs"][i]["durable_vs_off"].get<double>());
      std::printf(") median %.2f, faster in %d", r["durable_vs_off_median_pair"].get<double>(),
                  j["pairs_faster_than_off"].get<int>());
    }
    std::printf("\n");
  }
  std::printf("  written by the full checkpoint: %s (%.3f of the bytes, %.3f of zstd -1 on the raw bytes)\n",
              Mib(j["written_bytes"].get<double>()).c_str(), r["written_vs_bytes"].get<double>(),
              r["written_vs_zstd1_raw"].get<double>());
  const auto& inc = j["incremental"];
  std::printf("  incremental (%.3f of chunks changed): durable %.3f s (%.3f of full), wrote %s (%.3f of full)\n",
              inc["change_fraction"].get<double>(), inc["durable_s"].get<double>(),
              r["incremental_time_vs_full"].get<double>(), Mib(inc["written_bytes"].get<double>()).c_str(),
              r["incremental_bytes_vs_full"].get<double>());
  std::printf("  per region (bench-side ChunkEncoder over the full checkpoint's chunks, every chunk considered):\n");
  std::printf("    %-16s %-5s %12s %12s %7s %14s\n", "region", "type", "bytes", "encoded", "ratio", "zstd-1 raw");
  for (const auto& g : j["regions"])
    std::printf("    %-16s %-5s %12s %12s %7.3f %8.3f ratio\n", g["name"].get<std::string>().c_str(),
                g["type"].get<std::string>().c_str(), Mib(g["bytes"].get<double>()).c_str(),
                Mib(g["encoded_bytes"].get<double>()).c_str(), g["ratio"].get<double>(),
                g["zstd1_raw_ratio"].get<double>());
  const auto& cpu = j["cpu_s"];
  std::printf("  CPU seconds: full checkpoint %.3f, incremental %.3f, restore %.3f, limit write %.3f\n",
              cpu["durable"].get<double>(), cpu["incremental"].get<double>(), cpu["restore"].get<double>(),
              cpu["limit_write"].get<double>());
  const auto& m = j["memory"];
  std::printf("  memory: staging pool %s (resident from open, +%s RSS at open); peak RSS grew %s during the "
              "checkpoints and restore: %s\n",
              Mib(m["staging_pool_bytes"].get<double>()).c_str(), Mib(m["rss_open_delta_bytes"].get<double>()).c_str(),
              Mib(m["peak_rss_growth_bytes"].get<double>()).c_str(),
              m["within_pool"].get<bool>() ? "staging stayed within the pool" : "NOT shown within the pool");
}

}  // namespace

int RunIoBench(const std::vector<std::string>& args) {
  po::options_description options("Options");
  Spec spec;
  std::string bytes_text, chunk_text, staging_text;
  options.add_options()
      ("bytes", po::value(&bytes_text)->default_value("1G"),
       "bytes to checkpoint (K, M, G, T: powers of 1024); with --data PATH a cap, default all")
      ("dir", po::value(&spec.dir), "folder to work in, on the disk to measure (default: $TMPDIR or /tmp); "
                                    "a scratch folder below it is removed after")
      ("data", po::value(&spec.data)->default_value("synthetic"),
       "synthetic (float32 N(0,0.02)), zeros, random, or PATH of raw tensor files (docs/performance.md)")
      ("compression", po::value(&spec.compression)->default_value("auto"), "off, on (zstd) or auto")
      ("change-fraction", po::value(&spec.change_fraction)->default_value(0.1),
       "fraction of chunks changed before the incremental checkpoint (0..1)")
      ("chunk", po::value(&chunk_text)->default_value("4M"), "chunk size (Options::chunk_bytes)")
      ("staging", po::value(&staging_text)->default_value("256M"), "staging pool (Options::staging_bytes)")
      ("cache-drop", po::value(&spec.cache_drop)->default_value("all"),
       "before the restore: all (fadvise the segment files, then /proc/sys/vm/drop_caches where permitted), "
       "files (fadvise only) or none")
      ("pairs", po::value(&spec.pairs)->default_value(spec.pairs),
       "compressed runs: measure the full checkpoint against its uncompressed baseline this many times, "
       "alternating, each in a fresh store; durable_vs_off is the median time against the median time "
       "uncompressed (1..100; one pair is as noisy as the disk)")
      ("restores", po::value(&spec.restores)->default_value(spec.restores),
       "restore the incremental checkpoint this many times, each after dropping the caches and followed by "
       "a read of the reference file; restore_s and limit_read_s are the medians (1..20; one read is as "
       "noisy as the disk)")
      ("json", po::bool_switch(&spec.json), "one JSON object instead of the table");
  po::variables_map vm;
  if (ParseBenchCommandLine(
          "ckpt-bench io: stall, durable and restore times of a checkpoint against this disk's limits\n"
          "(io_uring O_DIRECT write/read) and a naive write()+fsync, measured in the same run.\n\n"
          "Usage: ckpt-bench io [--bytes SIZE] [--dir DIR] [--data synthetic|zeros|random|PATH]\n"
          "                     [--compression off|on|auto] [--change-fraction F] [--chunk SIZE]\n"
          "                     [--staging SIZE] [--pairs N] [--restores N] [--json]",
          options, args, vm))
    return kExitOk;
  spec.bytes = ParseSize("--bytes", bytes_text);
  spec.bytes_given = !vm["bytes"].defaulted();
  if (spec.compression != "off" && spec.compression != "on" && spec.compression != "auto")
    throw UsageError("--compression must be off, on or auto, not '" + spec.compression + "'");
  if (spec.cache_drop != "all" && spec.cache_drop != "files" && spec.cache_drop != "none")
    throw UsageError("--cache-drop must be all, files or none, not '" + spec.cache_drop + "'");
  if (!(spec.change_fraction >= 0 && spec.change_fraction <= 1))
    throw UsageError("--change-fraction must be between 0 and 1");
  if (spec.pairs < 1 || spec.pairs > 100) throw UsageError("--pairs must be between 1 and 100");
  if (spec.restores < 1 || spec.restores > 20) throw UsageError("--restores must be between 1 and 20");
  spec.chunk_bytes = ParseSize("--chunk", chunk_text);
  if (spec.chunk_bytes < (size_t{64} << 10) || spec.chunk_bytes > (size_t{256} << 20) || spec.chunk_bytes % 4096)
    throw UsageError("--chunk must be a multiple of 4K between 64K and 256M");
  spec.staging_bytes = ParseSize("--staging", staging_text);
  const bool known = spec.data == "synthetic" || spec.data == "zeros" || spec.data == "random";
  if (known && spec.bytes < 4) throw UsageError("--bytes must be at least 4 (one float32)");
  spec.progress = spec.bytes >= (uint64_t{256} << 20) || !known;
  try {
    const Json j = Run(spec);
    if (spec.json) std::cout << j.dump() << "\n";
    else PrintTable(j);
  } catch (const std::exception& e) {
    std::cerr << "ckpt-bench io: " << e.what() << "\n";
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace ckpt::bench
