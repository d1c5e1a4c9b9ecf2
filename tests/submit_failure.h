// Makes io_uring submissions fail on purpose: a seccomp filter on the calling
// thread (and the threads it starts afterwards) answers every io_uring_enter
// that submits requests with EAGAIN, as the kernel does when it runs out of
// memory for them, while calls that only wait for completions go through.
// A filter cannot be removed: install it on a thread made for the purpose.
#pragma once

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

namespace ckpt::testing {

// Empty on success, otherwise why the filter could not be installed.
inline std::string FailIoUringSubmitsOnThisThread() {
#if !defined(__x86_64__)
  return "the filter reads x86-64 system call arguments";
#endif
  constexpr unsigned kToSubmitLow = offsetof(seccomp_data, args) + 8;  // args[1], low word (x86-64)
  sock_filter program[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kToSubmitLow),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EAGAIN & SECCOMP_RET_DATA)),
  };
  sock_fprog fprog{static_cast<unsigned short>(sizeof(program) / sizeof(program[0])), program};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return std::string("PR_SET_NO_NEW_PRIVS: ") + std::strerror(errno);
  // Not SECCOMP_FILTER_FLAG_TSYNC: only this thread and those it starts.
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0)
    return std::string("seccomp: ") + std::strerror(errno);
  return "";
}

}  // namespace ckpt::testing
