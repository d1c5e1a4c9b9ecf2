// ckpt-bench snapshot: what a snapshot costs the training loop.
//
//   ckpt-bench snapshot --device cuda|host --bytes N [--chunk-kb K]
//                       [--staging-mb M] [--runs R] [--store DIR] [--json]
//
// Measures, as medians over R runs:
//   - how long checkpoint() blocks the caller (and, for cuda, guard()),
//   - the time from the call until the snapshot is consistent in host memory
//     (the ticket is copied), as GB/s against a plain copy of the same bytes
//     measured in the same run: pinned cudaMemcpy D2H for cuda, memcpy into a
//     pre-faulted buffer for host,
//   - the slowdown of a compute kernel (cuda) or compute loop (host) running
//     while a snapshot is in flight, against the same work alone.
//
// Exit codes as for every ckpt-bench subcommand (bench_cli.h): 0, 2 for a bad
// command line, 3 when it cannot run (no CUDA device, store not writable...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct CUstream_st;

namespace ckpt::bench {

int RunSnapshotBench(const std::vector<std::string>& args);

#ifdef CKPT_HAVE_CUDA
// bench/snapshot_kernels.cu: a compute-bound kernel (dependent FMAs, no
// memory traffic but one store per thread) of `blocks` x 256 threads.
void LaunchBusyKernel(float* out, uint64_t iterations, int blocks, CUstream_st* stream);
#endif

}  // namespace ckpt::bench
