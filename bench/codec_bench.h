// ckpt-bench codec: what each compression mode does to real training
// snapshots (bench/data/make_snapshots.py), per tensor kind.
#pragma once

#include <string>
#include <vector>

namespace ckpt::bench {

int RunCodecBench(const std::vector<std::string>& args);

}  // namespace ckpt::bench
