// libFuzzer target: manifest decoding must reject any byte string it cannot
// decode with a Status, never crash, hang or read out of bounds; whatever it
// accepts must encode back to the same bytes (a current-version manifest) or
// to a current-version manifest that decodes to the same content (an older
// version, which the encoder upgrades).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = ckpt::DecodeManifest(in);
  if (!m.ok()) return 0;
  const std::string out = ckpt::EncodeManifest(*m);
  if (static_cast<uint8_t>(in[0]) == ckpt::kManifestVersion) {
    if (out != in) std::abort();
    return 0;
  }
  auto again = ckpt::DecodeManifest(out);
  if (!again.ok() || ckpt::EncodeManifest(*again) != out) std::abort();
  return 0;
}
