// ckptd: the node daemon. Serves one store to the training processes of the
// node over a Unix socket; finishes a checkpoint whose snapshot was copied
// even when the training process dies (docs/operations.md).
//
//   ckptd --store DIR --socket PATH [--config FILE] [options]
//
// Every option may also be given in the config file (`name = value` lines,
// Boost.Program_options syntax); the command line wins.
#include <signal.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "log.h"
#include "server.h"

namespace po = boost::program_options;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int Usage(const std::string& message) {
  std::cerr << "ckptd: " << message << "\nTry 'ckptd --help' for usage.\n";
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  using ckpt::daemon::DaemonConfig;
  DaemonConfig config;
  std::string config_file, socket_mode = "0660", log_level = "info";
  po::options_description cli("Command line");
  cli.add_options()("help,h", "print this help")("config", po::value(&config_file),
                                                 "read options from FILE too (`name = value` lines)");
  po::options_description settings("Settings (command line or config file)");
  settings.add_options()
      ("store", po::value(&config.store_dir), "the store directory to serve (required; created when missing)")
      ("socket", po::value(&config.socket_path), "path of the Unix socket to listen on (required)")
      ("socket-mode", po::value(&socket_mode)->default_value("0660"),
       "permissions of the socket file, octal: 0660 lets the owner and group connect, 0600 only the owner")
      ("max-staging-bytes", po::value(&config.max_staging_bytes)->default_value(config.max_staging_bytes),
       "largest staging pool (shared memory) one job gets; larger requests are clamped")
      ("max-sessions", po::value(&config.max_sessions)->default_value(config.max_sessions),
       "connections served at once; more are refused")
      ("shutdown-grace-seconds",
       po::value(&config.shutdown_grace_seconds)->default_value(config.shutdown_grace_seconds),
       "on SIGTERM/SIGINT, wait this long for checkpoints in flight to commit")
      ("direct-io", po::value(&config.direct_io)->default_value(config.direct_io),
       "O_DIRECT segment writes where the filesystem allows (true/false)")
      ("log-level", po::value(&log_level)->default_value("info"), "error, warn, info or debug");
  po::options_description all;
  all.add(cli).add(settings);
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) return Usage("cannot read config file " + path);
      po::store(po::parse_config_file(in, settings), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return Usage(e.what());
  }
  if (vm.count("help")) {
    std::cout << "ckptd: the ckpt node daemon\n\nUsage: ckptd --store DIR --socket PATH [--config FILE]\n\n"
              << all << "\nSIGTERM or SIGINT: stop accepting, finish checkpoints in flight, exit 0.\n";
    return kExitOk;
  }
  if (config.store_dir.empty()) return Usage("--store is required");
  if (config.socket_path.empty()) return Usage("--socket is required");
  try {
    size_t used = 0;
    const unsigned long mode = std::stoul(socket_mode, &used, 8);
    if (used != socket_mode.size() || mode > 0777) throw std::invalid_argument("mode");
    config.socket_mode = static_cast<mode_t>(mode);
  } catch (const std::exception&) {
    return Usage("--socket-mode must be octal permissions such as 0660, not '" + socket_mode + "'");
  }
  ckpt::daemon::LogLevel level;
  if (!ckpt::daemon::ParseLogLevel(log_level, &level))
    return Usage("--log-level must be error, warn, info or debug, not '" + log_level + "'");
  ckpt::daemon::SetLogLevel(level);
  if (config.max_sessions == 0) return Usage("--max-sessions must be at least 1");
  if (config.shutdown_grace_seconds < 0) return Usage("--shutdown-grace-seconds must not be negative");

  // Signals are taken by sigwait on this thread; every other thread inherits
  // the mask. A dead client's socket must not kill the daemon: SIGPIPE off.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = ckpt::daemon::Server::Open(config);
  if (!server.ok()) {
    std::fprintf(stderr, "ckptd: cannot start: %s\n", server.status().ToString().c_str());
    return kExitRuntime;
  }
  std::thread runner([&] { (*server)->Run(); });
  int sig = 0;
  sigwait(&stop_signals, &sig);
  ckpt::daemon::Log(ckpt::daemon::LogLevel::kInfo, std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
  (*server)->Stop();
  runner.join();
  return kExitOk;
}
