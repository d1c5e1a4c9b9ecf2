#include "io_data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace ckpt::bench {
namespace {

namespace fs = std::filesystem;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// float32 N(0, 0.02): 2^20 exact normal draws, picked at random, with the
// lowest mantissa byte replaced by random bits so that no two chunks (and
// few values) repeat. Far faster than a normal draw per element, with the
// same exponent distribution and mantissa entropy as real draws.
void FillSynthetic(uint8_t* out, size_t bytes, uint64_t seed) {
  static const std::vector<float> table = [] {
    std::vector<float> t(size_t{1} << 20);
    std::mt19937_64 rng(42);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    for (auto& v : t) v = dist(rng);
    return t;
  }();
  uint64_t state = seed;
  const size_t n = bytes / 4;
  for (size_t i = 0; i < n; i += 2) {
    const uint64_t r = SplitMix64(state);
    for (size_t k = 0; k < 2 && i + k < n; ++k) {
      const uint64_t bits = r >> (32 * k);
      uint32_t v;
      std::memcpy(&v, &table[bits & 0xFFFFF], 4);
      v = (v & ~0xFFu) | static_cast<uint32_t>((bits >> 20) & 0xFF);
      std::memcpy(out + 4 * (i + k), &v, 4);
    }
  }
  for (size_t i = n * 4; i < bytes; ++i) out[i] = 0;
}

void FillRandom(uint8_t* out, size_t bytes, uint64_t seed) {
  uint64_t state = seed;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    const uint64_t v = SplitMix64(state);
    std::memcpy(out + i, &v, 8);
  }
  const uint64_t v = SplitMix64(state);
  std::memcpy(out + i, &v, bytes - i);
}

[[noreturn]] void Fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

// Reads exactly `bytes` bytes from fd's current position; an error naming
// `path` when the file ends first.
void ReadExactly(int fd, const std::string& path, uint8_t* out, size_t bytes) {
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::read(fd, out + done, std::min<size_t>(bytes - done, size_t{64} << 20));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail("read " + path, errno);
    if (n == 0) throw std::runtime_error("read " + path + ": file is shorter than expected");
    done += static_cast<size_t>(n);
  }
}

class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path) : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) Fail("open " + path, errno);
  }
  ~ReadOnlyFile() { ::close(fd_); }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  void Read(uint8_t* out, size_t bytes) { ReadExactly(fd_, path_, out, bytes); }

 private:
  std::string path_;
  int fd_;
};

void ReadInto(const std::string& path, uint8_t* out, size_t bytes) { ReadOnlyFile(path).Read(out, bytes); }

// The tensor files of one snapshot folder, sorted by name.
std::vector<fs::path> TensorFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".f32" || ext == ".bf16")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// PATH itself when it holds tensor files, else its subfolders that do.
std::vector<fs::path> Snapshots(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec))
    throw std::runtime_error("--data: '" + path.string() +
                             "' is not synthetic, zeros, random or a folder of tensor files");
  if (!TensorFiles(path).empty()) return {path};
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(path))
    if (e.is_directory() && !TensorFiles(e.path()).empty()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  if (out.empty())
    throw std::runtime_error("--data: '" + path.string() +
                             "' holds no *.f32 or *.bf16 tensor files, nor snapshot folders with them");
  return out;
}

size_t ElementBytes(const BenchRegion& r) { return ElementSize(r.type); }

}  // namespace

PageBuffer::PageBuffer(size_t bytes) : bytes_(bytes) {
  void* p = ::mmap(nullptr, std::max<size_t>(bytes, 1), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) Fail("allocate " + std::to_string(bytes) + " bytes", errno);
  data_ = static_cast<uint8_t*>(p);
}

PageBuffer::~PageBuffer() { ::munmap(data_, std::max<size_t>(bytes_, 1)); }

uint64_t BenchData::total_bytes() const {
  uint64_t n = 0;
  for (const auto& r : regions) n += r.bytes();
  return n;
}

BenchData MakeData(const std::string& data, uint64_t bytes, bool cap_path, uint64_t seed) {
  BenchData out;
  if (data == "synthetic" || data == "zeros" || data == "random") {
    out.kind = data;
    BenchRegion r;
    r.name = "data";
    r.type = ElementType::kFloat32;
    r.memory = std::make_unique<PageBuffer>(bytes / 4 * 4);
    if (data == "synthetic") FillSynthetic(r.memory->data(), r.bytes(), seed);
    if (data == "random") FillRandom(r.memory->data(), r.bytes(), seed);
    // zeros: fresh anonymous memory is zero already.
    out.regions.push_back(std::move(r));
    return out;
  }
  out.kind = "path";
  const auto snapshots = Snapshots(data);
  uint64_t budget = cap_path ? bytes : ~uint64_t{0};
  for (const auto& file : TensorFiles(snapshots.front())) {
    BenchRegion r;
    r.name = file.stem().string();
    r.type = file.extension() == ".bf16" ? ElementType::kBFloat16 : ElementType::kFloat32;
    uint64_t size = fs::file_size(file);
    size = std::min(size, budget) / ElementSize(r.type) * ElementSize(r.type);
    if (size == 0) continue;
    budget -= size;
    r.memory = std::make_unique<PageBuffer>(size);
    ReadInto(file.string(), r.memory->data(), size);
    out.regions.push_back(std::move(r));
  }
  if (out.regions.empty()) throw std::runtime_error("--data: no tensor bytes in " + snapshots.front().string());
  if (snapshots.size() > 1) {
    for (const auto& r : out.regions) {
      const fs::path f = snapshots[1] / (r.name + (r.type == ElementType::kBFloat16 ? ".bf16" : ".f32"));
      std::error_code ec;
      if (!fs::is_regular_file(f, ec))
        throw std::runtime_error("--data: snapshot " + snapshots[1].string() + " has no " + f.filename().string());
      if (!cap_path && fs::file_size(f) != r.bytes())
        throw std::runtime_error("--data: " + f.string() + " differs in size from the first snapshot's");
      out.next_files.push_back(f.string());
    }
  }
  return out;
}

size_t ChangeChunks(BenchData& data, size_t chunk_bytes, double fraction) {
  size_t total = 0;
  for (const auto& r : data.regions) total += (r.bytes() + chunk_bytes - 1) / chunk_bytes;
  const size_t want = std::min(total, static_cast<size_t>(std::llround(fraction * static_cast<double>(total))));
  if (want == 0) return 0;
  size_t changed = 0, global = 0;
  for (auto& r : data.regions) {
    const size_t chunks = (r.bytes() + chunk_bytes - 1) / chunk_bytes;
    for (size_t c = 0; c < chunks; ++c, ++global) {
      // Chunk `global` is changed when it crosses a multiple of total/want.
      if ((global + 1) * want / total == global * want / total) continue;
      const size_t width = ElementBytes(r);
      uint8_t* p = r.memory->data() + c * chunk_bytes;
      const size_t n = std::min(chunk_bytes, r.bytes() - c * chunk_bytes);
      for (size_t i = 0; i + width <= n; i += width) p[i] ^= 1;  // little-endian: lowest mantissa bit
      ++changed;
    }
  }
  return changed;
}

size_t LoadNextSnapshot(BenchData& data, size_t chunk_bytes) {
  // Chunk by chunk through one chunk-sized buffer: the bench's own memory
  // must not grow by a tensor while it measures the engine's (the memory line).
  PageBuffer next(chunk_bytes);
  size_t changed = 0;
  for (size_t i = 0; i < data.regions.size(); ++i) {
    BenchRegion& r = data.regions[i];
    ReadOnlyFile file(data.next_files[i]);
    for (size_t off = 0; off < r.bytes(); off += chunk_bytes) {
      const size_t n = std::min(chunk_bytes, r.bytes() - off);
      file.Read(next.data(), n);
      if (std::memcmp(r.memory->data() + off, next.data(), n) == 0) continue;
      std::memcpy(r.memory->data() + off, next.data(), n);
      ++changed;
    }
  }
  return changed;
}

}  // namespace ckpt::bench
