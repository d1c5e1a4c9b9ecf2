// libFuzzer target: the client <-> ckptd frame decoder (lib/ipc/protocol.h)
// must reject any byte string it cannot decode with a Status, never crash,
// hang or read out of bounds; whatever it accepts must encode back to the
// same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ipc/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = ckpt::ipc::DecodeFrame(in);
  if (m.ok()) {
    auto again = ckpt::ipc::Encode(*m);
    if (!again.ok() || *again != in) std::abort();
  }
  return 0;
}
