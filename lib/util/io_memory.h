// Memory for staging slots and I/O buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ckpt/status.h"

namespace ckpt {

// Maps `bytes` of anonymous private memory and faults all of it in now (a
// checkpoint must never pay for first touch: ../shared/PLATFORM.md). Where
// the kernel allows it (transparent huge pages "always" or "madvise") the
// mapping is 2 MiB-aligned and backed by huge pages: a 4 MiB O_DIRECT write
// from huge pages reaches the block layer as two physically contiguous
// pieces rather than up to 1024 pages (more requests, more page pinning),
// and the virtio disk of docs/performance.md takes it about 30% faster.
// Without huge pages it is ordinary memory. Free with munmap(p, bytes).
// `what` names the memory in the error.
Result<uint8_t*> MapIoMemory(size_t bytes, const std::string& what);

}  // namespace ckpt
