// ckpt-bench io: what a checkpoint costs against this machine's own limits,
// measured in one run on one filesystem (docs/performance.md):
//
//   stall_s        the longest a checkpoint() call blocked the caller
//   copied_s       checkpoint() until the snapshot was staged (wait_copied)
//   durable_s      checkpoint() until committed (wait_durable)
//   restore_s      restore() of every region, page cache dropped first where permitted
//   limit_write_s  the same bytes written with io_uring, O_DIRECT, 4 MiB, queue depth 16, fdatasync
//   limit_read_s   and read back likewise
//   naive_s        write() + fsync of the same bytes from the calling thread
//   incremental    a second checkpoint after a fraction of the chunks changed
//
// The bench verifies that restore() brought back exactly the bytes of the
// checkpoint (memcmp against a copy) and fails (exit 3) otherwise.
#pragma once

#include <string>
#include <vector>

namespace ckpt::bench {

int RunIoBench(const std::vector<std::string>& args);

}  // namespace ckpt::bench
