// crash_workload STORE SEED CRASH_AT: runs the crash-test workload against
// STORE through a FaultInjectionEnv that SIGKILLs this process right before
// its CRASH_AT-th I/O operation (0: never). Prints "durable N" as soon as step
// N is known durable and, if it gets that far, "ops T" with the number of I/O
// operations the whole workload took.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "crash/workload.h"
#include "fault_injection_env.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_workload STORE SEED CRASH_AT\n");
    return 2;
  }
  const std::string store = argv[1];
  const uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  const uint64_t crash_at = std::strtoull(argv[3], nullptr, 10);

  ckpt::testing::FaultInjectionEnv env;
  if (crash_at > 0) env.SetCrashPoint(crash_at, [] { std::raise(SIGKILL); });
  ckpt::Options options = ckpt::crash::WorkloadOptions(store);
  options.store.env = &env;
  auto client = ckpt::Client::Open(options);
  if (!client.ok()) {
    std::fprintf(stderr, "open: %s\n", client.status().ToString().c_str());
    return 1;
  }
  ckpt::crash::WorkloadState state;
  state.SetToStep(seed, 0);
  if (ckpt::Status s = state.Protect(client->get()); !s.ok()) {
    std::fprintf(stderr, "protect: %s\n", s.ToString().c_str());
    return 1;
  }
  for (uint64_t step = 1; step <= ckpt::crash::kSteps; ++step) {
    state.SetToStep(seed, step);
    auto ticket = (*client)->checkpoint(step);
    if (!ticket.ok()) return 1;
    if (ckpt::Status s = ticket->wait_durable(); !s.ok()) {
      std::fprintf(stderr, "step %llu: %s\n", static_cast<unsigned long long>(step), s.ToString().c_str());
      return 1;
    }
    std::printf("durable %llu\n", static_cast<unsigned long long>(step));
    std::fflush(stdout);
  }
  client->reset();
  std::printf("ops %llu\n", static_cast<unsigned long long>(env.total_ops()));
  return 0;
}
