#include "bench_cli.h"

#include <iostream>

namespace ckpt::bench {

bool ParseBenchCommandLine(const std::string& usage, po::options_description& options,
                           const std::vector<std::string>& args, po::variables_map& vm) {
  options.add_options()("help,h", "print this help and exit");
  po::options_description hidden;
  hidden.add_options()("stray-arguments", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("stray-arguments", -1);
  const int style = po::command_line_style::default_style &
                    ~po::command_line_style::allow_guessing;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).style(style).run(),
              vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (vm.count("help") != 0) {
    std::cout << usage << "\n\n" << options << "\n";
    return true;
  }
  if (vm.count("stray-arguments") != 0) {
    throw UsageError("unexpected argument '" +
                     vm["stray-arguments"].as<std::vector<std::string>>().front() + "'");
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return false;
}

}  // namespace ckpt::bench
