// ckpt-bench codec: ratio and single-core encode/decode speed of each
// compression mode on the snapshots of bench/data/make_snapshots.py, per
// tensor kind, against plain zstd level 1 on the raw bytes measured in the
// same run. Every encoded chunk is decoded and compared with its input.
#include <time.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_cli.h"
#include "codec_bench.h"
#include "engine/chunk_codec.h"

namespace ckpt::bench {
namespace {

namespace fs = std::filesystem;
// Timing is the CPU time of the encoding thread: on a machine whose one core
// is shared, wall time would count other processes' turns; CPU time is what
// this work costs the core it runs on.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};

const char* const kUsage =
    "Usage: ckpt-bench codec --data PATH [--chunk SIZE] [--level N] [--repeat N]\n"
    "                        [--disk-mbps N] [--json]\n\n"
    "PATH is a folder written by bench/data/make_snapshots.py (its snapshot folders, or one\n"
    "of them). For each snapshot and tensor kind (weights_fp32, weights_bf16, exp_avg,\n"
    "exp_avg_sq) the file is cut into chunks and encoded on one thread by each mode:\n"
    "  off    stored raw\n"
    "  on     byte planes, then zstd over the whole chunk (Compression::kZstd)\n"
    "  auto   per-plane: only planes whose sample compresses (Compression::kAuto)\n"
    "  paced  auto with auto_compression_mbps = --disk-mbps (chunks raw while behind)\n"
    "  zstd1  plain zstd on the raw bytes, no plane split: the baseline\n"
    "ratio = raw bytes / stored bytes; MB/s = raw MB / CPU seconds of the encoding thread\n"
    "(best of --repeat runs; CPU time, so other load on the machine does not count). durable_vs_off models a pipeline where encoding overlaps the writes:\n"
    "max(encode time, stored bytes / disk) / (raw bytes / disk), disk = --disk-mbps.\n"
    "Exit codes: 0 success, 2 usage error, 3 data missing or bad, or a round trip failed.";

struct Kind {
  const char* file;
  const char* name;
  size_t width;
};
constexpr Kind kKinds[] = {{"weights_fp32.f32", "weights_fp32", 4},
                           {"weights_bf16.bf16", "weights_bf16", 2},
                           {"exp_avg.f32", "exp_avg", 4},
                           {"exp_avg_sq.f32", "exp_avg_sq", 4}};
const char* const kModes[] = {"off", "on", "auto", "paced", "zstd1"};

struct Measure {
  uint64_t raw = 0, stored = 0;
  double encode_s = 0, decode_s = 0;
};

size_t ParseSize(const std::string& text, const std::string& flag) {
  size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  const std::string suffix = text.substr(pos);
  const int shift = suffix.empty() ? 0 : suffix == "K" ? 10 : suffix == "M" ? 20 : suffix == "G" ? 30 : -1;
  if (pos == 0 || shift < 0 || v == 0)
    throw UsageError("invalid value '" + text + "' for option '--" + flag + "': expected a size like 4M");
  return static_cast<size_t>(v) << shift;
}

std::vector<uint8_t> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<uint8_t> data(fs::file_size(path));
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return data;
}

double Seconds(Clock::time_point since) { return Clock::now() - since; }

// One pass of `mode` over the data: stored bytes, encode and decode seconds.
Measure RunMode(const std::string& mode, const std::vector<uint8_t>& data, size_t width, size_t chunk,
                int level, uint32_t disk_mbps) {
  Measure m;
  m.raw = data.size();
  std::vector<uint8_t> back(chunk);
  ChunkDecoder decoder;
  if (mode == "zstd1") {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    std::vector<uint8_t> out(ZSTD_compressBound(chunk));
    for (size_t off = 0; off < data.size(); off += chunk) {
      const size_t n = std::min(chunk, data.size() - off);
      auto t = Clock::now();
      const size_t c = ZSTD_compressCCtx(cctx, out.data(), out.size(), data.data() + off, n, level);
      m.encode_s += Seconds(t);
      t = Clock::now();
      const size_t d = ZSTD_isError(c) ? c : ZSTD_decompressDCtx(dctx, back.data(), n, out.data(), c);
      m.decode_s += Seconds(t);
      if (ZSTD_isError(c) || ZSTD_isError(d) || d != n || std::memcmp(back.data(), data.data() + off, n) != 0)
        throw std::runtime_error("zstd round trip failed");
      m.stored += c;
    }
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
    return m;
  }
  const Compression c = mode == "off" ? Compression::kOff : mode == "on" ? Compression::kZstd : Compression::kAuto;
  ChunkEncoder encoder(c, level, mode == "paced" ? disk_mbps : 0);
  for (size_t off = 0; off < data.size(); off += chunk) {
    const size_t n = std::min(chunk, data.size() - off);
    auto t = Clock::now();
    auto e = encoder.Encode(data.data() + off, n, width);
    m.encode_s += Seconds(t);
    if (!e.ok()) throw std::runtime_error("encode (" + mode + "): " + e.status().ToString());
    t = Clock::now();
    Status s = decoder.Decode(e->codec, e->plane_width, e->payload, back.data(), n);
    m.decode_s += Seconds(t);
    if (!s.ok() || std::memcmp(back.data(), data.data() + off, n) != 0)
      throw std::runtime_error("round trip (" + mode + ") failed: " + s.ToString());
    m.stored += e->payload.size();
  }
  return m;
}

std::vector<fs::path> SnapshotFolders(const fs::path& data) {
  std::vector<fs::path> out;
  if (fs::exists(data / "meta.json")) return {data};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(data, ec))
    if (entry.is_directory() && fs::exists(entry.path() / "meta.json")) out.push_back(entry.path());
  if (ec) throw std::runtime_error("cannot list " + data.string() + ": " + ec.message());
  if (out.empty()) throw std::runtime_error("no snapshot folders (with meta.json) in " + data.string());
  std::sort(out.begin(), out.end());
  return out;
}

double Mbps(uint64_t bytes, double s) { return s > 0 ? static_cast<double>(bytes) / 1e6 / s : 0; }

nlohmann::json Row(const std::string& snapshot, const std::string& kind, const std::map<std::string, Measure>& m,
                   double disk_mbps) {
  nlohmann::json row{{"snapshot", snapshot}, {"kind", kind}, {"raw_bytes", m.at("off").raw}};
  const double t_off = static_cast<double>(m.at("off").raw) / 1e6 / disk_mbps;
  for (const char* mode : kModes) {
    const Measure& x = m.at(mode);
    const double write_s = static_cast<double>(x.stored) / 1e6 / disk_mbps;
    row[mode] = {{"stored_bytes", x.stored},
                 {"ratio", static_cast<double>(x.raw) / static_cast<double>(std::max<uint64_t>(x.stored, 1))},
                 {"encode_mbps", Mbps(x.raw, x.encode_s)},
                 {"decode_mbps", Mbps(x.raw, x.decode_s)},
                 {"durable_vs_off", std::max(x.encode_s, write_s) / t_off}};
  }
  row["auto_vs_zstd1_bytes"] =
      static_cast<double>(m.at("auto").stored) / static_cast<double>(std::max<uint64_t>(m.at("zstd1").stored, 1));
  return row;
}

void PrintTable(const nlohmann::json& rows, double disk_mbps) {
  std::cout << "ratio = raw/stored; MB/s = one-core encode; dur = modeled durable time / off at "
            << disk_mbps << " MB/s\n";
  std::cout << std::left << std::setw(20) << "snapshot" << std::setw(14) << "kind" << std::right << std::setw(7)
            << "MB";
  for (const char* mode : kModes) std::cout << std::setw(21) << (std::string(mode) + " ratio MB/s dur");
  std::cout << std::setw(11) << "auto/zstd1" << "\n";
  for (const auto& r : rows) {
    std::cout << std::left << std::setw(20) << r["snapshot"].get<std::string>() << std::setw(14)
              << r["kind"].get<std::string>() << std::right << std::fixed << std::setprecision(1) << std::setw(7)
              << r["raw_bytes"].get<double>() / 1e6;
    for (const char* mode : kModes) {
      const auto& x = r[mode];
      std::ostringstream cell;
      cell << std::fixed << std::setprecision(3) << x["ratio"].get<double>() << " " << std::setprecision(0)
           << std::setw(5) << x["encode_mbps"].get<double>() << " " << std::setprecision(2)
           << x["durable_vs_off"].get<double>();
      std::cout << std::setw(21) << cell.str();
    }
    std::cout << std::setw(11) << std::setprecision(3) << r["auto_vs_zstd1_bytes"].get<double>() << "\n";
  }
}

}  // namespace

int RunCodecBench(const std::vector<std::string>& args) {
  po::options_description options("Options");
  std::string data, chunk_text;
  int level = 1, repeat = 3;
  double disk_mbps = 2500;
  options.add_options()
      ("data", po::value(&data)->required(), "folder written by bench/data/make_snapshots.py")
      ("chunk", po::value(&chunk_text)->default_value("4M"), "chunk size (K, M, G suffixes)")
      ("level", po::value(&level)->default_value(1), "zstd level of every mode (1 = fastest)")
      ("repeat", po::value(&repeat)->default_value(3), "runs per measurement; the fastest counts")
      ("disk-mbps", po::value(&disk_mbps)->default_value(2500), "write speed for durable_vs_off")
      ("json", "machine-readable output");
  po::variables_map vm;
  if (ParseBenchCommandLine(kUsage, options, args, vm)) return kExitOk;
  const size_t chunk = ParseSize(chunk_text, "chunk");
  if (level < 1 || level > 19) throw UsageError("--level must be between 1 and 19");
  if (repeat < 1) throw UsageError("--repeat must be at least 1");
  if (disk_mbps < 1 || disk_mbps > 1e6) throw UsageError("--disk-mbps must be between 1 and 1000000");

  nlohmann::json rows = nlohmann::json::array();
  std::map<std::string, std::map<std::string, Measure>> totals;  // kind -> mode -> sums
  for (const fs::path& folder : SnapshotFolders(data)) {
    for (const Kind& kind : kKinds) {
      const std::vector<uint8_t> bytes = ReadFile(folder / kind.file);
      std::cerr << "codec: " << folder.filename().string() << " " << kind.name << " (" << bytes.size() / 1000000
                << " MB)\n";
      std::map<std::string, Measure> best;
      for (const char* mode : kModes) {
        for (int r = 0; r < repeat; ++r) {
          Measure m = RunMode(mode, bytes, kind.width, chunk, level, static_cast<uint32_t>(disk_mbps));
          if (r == 0 || m.encode_s < best[mode].encode_s) best[mode].encode_s = m.encode_s;
          if (r == 0 || m.decode_s < best[mode].decode_s) best[mode].decode_s = m.decode_s;
          best[mode].raw = m.raw;
          best[mode].stored = m.stored;
        }
        Measure& t = totals[kind.name][mode];
        t.raw += best[mode].raw;
        t.stored += best[mode].stored;
        t.encode_s += best[mode].encode_s;
        t.decode_s += best[mode].decode_s;
      }
      rows.push_back(Row(folder.filename().string(), kind.name, best, disk_mbps));
    }
  }
  for (const Kind& kind : kKinds) rows.push_back(Row("all", kind.name, totals[kind.name], disk_mbps));

  if (vm.count("json") != 0) {
    nlohmann::json out{{"chunk_bytes", chunk}, {"zstd_level", level}, {"repeat", repeat},
                       {"disk_mbps", disk_mbps}, {"auto_plane_ratio", kAutoPlaneRatio}, {"rows", rows}};
    std::cout << out.dump(1) << "\n";
  } else {
    PrintTable(rows, disk_mbps);
  }
  return kExitOk;
}

}  // namespace ckpt::bench
