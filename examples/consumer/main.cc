// The smallest training loop with ckpt: protect, checkpoint, restore, check.
// Built out of tree against an installed ckpt; exits non-zero on any error or
// when the restored bytes differ from the checkpointed ones.
#include <ckpt/client.h>

#include <algorithm>
#include <cstdio>
#include <vector>

static int Fail(const char* what, const ckpt::Status& s) {
  std::fprintf(stderr, "consumer: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer STORE_DIR\n");
    return 2;
  }
  std::vector<float> weights(1 << 20);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 0.001f * static_cast<float>(i % 977);
  const std::vector<float> saved = weights;

  // --- the ten lines a training loop adds ---
  ckpt::Options options;
  options.store_dir = argv[1];
  options.job = "consumer";
  options.staging_bytes = 8 << 20;
  auto client = ckpt::Client::Open(options);
  if (!client.ok()) return Fail("open", client.status());
  ckpt::Status s = (*client)->protect("weights", weights.data(), weights.size() * sizeof(float),
                                      ckpt::ElementType::kFloat32);
  if (!s.ok()) return Fail("protect", s);
  auto ticket = (*client)->checkpoint(/*step=*/1);
  if (!ticket.ok()) return Fail("checkpoint", ticket.status());
  if (!(s = ticket->wait_copied()).ok()) return Fail("wait_copied", s);  // the guard
  std::fill(weights.begin(), weights.end(), 0.0f);  // the next update may now run
  if (!(s = (*client)->flush()).ok()) return Fail("flush", s);
  auto step = (*client)->restore();                 // after a restart
  if (!step.ok()) return Fail("restore", step.status());
  // ---

  if (*step != 1 || weights != saved) {
    std::fprintf(stderr, "consumer: restored step %llu does not hold the checkpointed bytes\n",
                 static_cast<unsigned long long>(*step));
    return 1;
  }
  std::printf("consumer: checkpointed and restored %zu bytes at step %llu\n",
              weights.size() * sizeof(float), static_cast<unsigned long long>(*step));
  return 0;
}
