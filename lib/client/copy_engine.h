// The seam between the client and the memory its regions live in.
//
// A copy engine moves bytes between region memory and the staging pool. The
// host engine uses memcpy; the CUDA engine (issue 3) will enqueue device-to-
// host copies on its own stream with one event per chunk. The client only
// relies on the contract below, so both plug in unchanged.
//
// Thread safety: an engine is driven by one client thread at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "ckpt/status.h"

namespace ckpt {

class CopyEngine {
 public:
  virtual ~CopyEngine() = default;

  // Starts copying `size` bytes of region memory at `src` into staging memory
  // at `dst`. `done` is called exactly once, from any thread, when the bytes
  // are in `dst` (or the copy failed). The source must not change until then.
  virtual void CopyToStaging(const void* src, void* dst, size_t size,
                             std::function<void(Status)> done) = 0;

  // True when the host can write region memory directly (restore then decodes
  // straight into the region instead of going through staging).
  virtual bool host_addressable() const = 0;

  virtual std::string_view name() const = 0;
};

// memcpy on the calling thread; `done` runs before CopyToStaging returns.
std::unique_ptr<CopyEngine> NewHostCopyEngine();

}  // namespace ckpt
