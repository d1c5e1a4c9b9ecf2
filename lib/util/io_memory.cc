#include "util/io_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "util/file_util.h"

namespace ckpt {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

}  // namespace

Result<uint8_t*> MapIoMemory(size_t bytes, const std::string& what) {
  if (bytes == 0) return Status::InvalidArgument("allocate " + what + ": zero bytes");
  const bool huge = bytes >= kHugePage;
  // Reserve a huge page more, then trim to a 2 MiB-aligned start.
  const size_t reserve = huge ? bytes + kHugePage : bytes;
  void* p = ::mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ErrnoStatus("allocate " + std::to_string(bytes) + " bytes of " + what, errno);
  auto* base = static_cast<uint8_t*>(p);
  if (huge) {
    const auto addr = reinterpret_cast<uintptr_t>(base);
    const size_t head = (kHugePage - addr % kHugePage) % kHugePage;
    if (head > 0) ::munmap(base, head);
    const size_t tail = reserve - head - bytes;
    if (tail > 0) ::munmap(base + head + bytes, tail);
    base += head;
    // Only advice: a kernel without THP (or with it "never") says EINVAL.
    (void)::madvise(base, bytes, MADV_HUGEPAGE);
  }
#ifdef MADV_POPULATE_WRITE
  if (::madvise(base, bytes, MADV_POPULATE_WRITE) == 0) return base;
  if (errno != EINVAL) {
    const int err = errno;
    ::munmap(base, bytes);
    return ErrnoStatus("fault in " + std::to_string(bytes) + " bytes of " + what, err);
  }
#endif
  // Kernels before 5.14 or a libc without MADV_POPULATE_WRITE: touch it.
  std::memset(base, 0, bytes);
  return base;
}

}  // namespace ckpt
