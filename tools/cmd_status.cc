// ckpt status --socket PATH [--json]: what a running ckptd is doing.
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "ipc/channel.h"

namespace ckpt::cli {
namespace {

const CommandSpec kSpec = {
    "status",
    "--socket PATH [--json]",
    "Asks the ckptd listening on PATH for its jobs: for each attached job its\n"
    "uid and pid, whether a snapshot copy is in progress, checkpoints in flight,\n"
    "committed and failed, bytes staged, committed and written, and throughput\n"
    "(logical MB per second of daemon work); then the recent failure events\n"
    "(sessions that ended without a clean close). A non-root user sees only its\n"
    "own jobs. --json prints the daemon's JSON as it is.",
    "  0  success\n",
};

Result<std::string> Query(const std::string& socket) {
  auto channel = ipc::Channel::Connect(socket);
  if (!channel.ok()) return channel.status();
  CKPT_RETURN_IF_ERROR((*channel)->Send(ipc::StatusQuery{}));
  auto reply = (*channel)->Receive();
  if (!reply.ok()) return reply.status();
  if (!reply->has_value()) return Status::Aborted("ckptd closed the connection");
  const auto* status = std::get_if<ipc::StatusReply>(&**reply);
  if (status == nullptr) return Status::Corruption("ckptd answered " + std::string(ipc::TypeName(ipc::TypeOf(**reply))));
  return status->json;
}

}  // namespace

int RunStatus(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("socket", po::value<std::string>(), "the ckptd socket")(
      "json", po::bool_switch(), "print JSON");
  po::variables_map vm;
  if (ParseCommandLine(kSpec, options, args, vm)) return kExitOk;
  const std::string socket = RequireString(vm, "socket");
  auto text = Query(socket);
  if (!text.ok()) return RuntimeError("status", text.status().WithContext("ckptd at " + socket));
  const nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return RuntimeError("status", Status::Corruption("ckptd at " + socket + " sent unparsable status"));
  if (vm["json"].as<bool>()) {
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "ckptd pid " << j.value("pid", 0) << " serving " << j.value("store", "") << " on "
            << j.value("socket", "") << ", up " << static_cast<uint64_t>(j.value("uptime_seconds", 0.0))
            << " s\n";
  const auto& jobs = j["jobs"];
  std::cout << jobs.size() << " job(s) attached\n";
  for (const auto& job : jobs) {
    std::cout << "  " << job.value("job", "") << ": uid " << job.value("uid", 0) << " pid "
              << job.value("pid", 0) << (job.value("copy_in_progress", false) ? ", copying" : "")
              << ", in flight " << job.value("checkpoints_in_flight", 0) << ", committed "
              << job.value("checkpoints_committed", 0) << ", failed " << job.value("checkpoints_failed", 0)
              << ", staged " << HumanBytes(job.value("bytes_staged", uint64_t{0})) << ", written "
              << HumanBytes(job.value("bytes_written", uint64_t{0})) << ", "
              << job.value("throughput_mb_per_s", 0.0) << " MB/s";
    if (job.contains("last_committed_step")) std::cout << ", last step " << job["last_committed_step"];
    std::cout << "\n";
  }
  const auto& failures = j["failures"];
  std::cout << failures.size() << " failure event(s)\n";
  for (const auto& f : failures)
    std::cout << "  " << IsoTimeUtc(f.value("unix_ms", int64_t{0})) << " job " << f.value("job", "") << " uid "
              << f.value("uid", 0) << ": " << f.value("cause", "") << "\n";
  return kExitOk;
}

}  // namespace ckpt::cli
