// Reading trace files (plain or xz-compressed) and normalizing failure times.
#include <lzma.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "ckpt/policy.h"
#include "policy/trace.h"

namespace ckpt::policy {
namespace {

constexpr unsigned char kXzMagic[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};

Result<std::string> DecompressXz(const std::string& in, const std::string& path) {
  lzma_stream stream = LZMA_STREAM_INIT;
  // No memory limit: traces are small, and the file is the user's own.
  if (lzma_stream_decoder(&stream, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
    return Status::IOError("cannot start the xz decoder for '" + path + "'");
  }
  std::string out;
  char buf[1 << 16];
  stream.next_in = reinterpret_cast<const uint8_t*>(in.data());
  stream.avail_in = in.size();
  lzma_ret ret = LZMA_OK;
  while (ret == LZMA_OK) {
    stream.next_out = reinterpret_cast<uint8_t*>(buf);
    stream.avail_out = sizeof(buf);
    // All input is present: LZMA_FINISH lets the decoder report truncation.
    ret = lzma_code(&stream, LZMA_FINISH);
    out.append(buf, sizeof(buf) - stream.avail_out);
  }
  lzma_end(&stream);
  if (ret != LZMA_STREAM_END) {
    return Status::Corruption("'" + path + "' is not a valid xz file (liblzma error " +
                              std::to_string(static_cast<int>(ret)) + ")");
  }
  return out;
}

}  // namespace

Result<std::string> ReadTraceFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound("trace file '" + path + "' does not exist");
  }
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("trace file '" + path + "' is a directory");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::IOError("cannot open trace file '" + path + "': " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return Status::IOError("cannot read trace file '" + path + "'");
  if (bytes.size() >= sizeof(kXzMagic) &&
      std::equal(std::begin(kXzMagic), std::end(kXzMagic),
                 reinterpret_cast<const unsigned char*>(bytes.data()))) {
    return DecompressXz(bytes, path);
  }
  return bytes;
}

void FinalizeTrace(std::vector<double> raw_times, Trace* trace) {
  trace->records = raw_times.size();
  std::sort(raw_times.begin(), raw_times.end());
  raw_times.erase(std::unique(raw_times.begin(), raw_times.end()), raw_times.end());
  trace->merged = trace->records - raw_times.size();
  trace->times_s = std::move(raw_times);
}

void Dequantize(Trace* trace, uint64_t seed) {
  if (!(trace->resolution_s > 0)) return;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> within(0.0, trace->resolution_s);
  for (double& t : trace->times_s) t += within(rng);
}

Result<std::vector<double>> ReadFailureTimes(const std::string& path, std::string_view format,
                                             int system) {
  Result<Trace> trace = Status::InvalidArgument("unknown trace format '" + std::string(format) +
                                                "' (expected times or lanl)");
  if (format == "times") trace = ReadTimesTrace(path);
  if (format == "lanl") trace = ReadLanlTrace(path, system);
  if (!trace.ok()) return trace.status();
  return std::move(trace->times_s);
}

Result<double> ParseTimestamp(std::string_view text) { return ParseTimeValue(text); }

}  // namespace ckpt::policy
