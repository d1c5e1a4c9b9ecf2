// Small POSIX helpers that turn errno into Status with the path in the message.
#pragma once

#include <string>

#include "ckpt/status.h"

namespace ckpt {

// IOError, or NoSpace for ENOSPC/EDQUOT, naming `what` and the errno text.
Status ErrnoStatus(const std::string& what, int err);

// fsync of a directory, so that entries created in it survive a crash.
Status SyncDir(const std::string& dir);

// mkdir -p; OK when it exists already as a directory.
Status CreateDirs(const std::string& dir);

bool PathExists(const std::string& path);
bool IsDirectory(const std::string& path);

// Writes `contents` to `path` durably: temp file, fsync, rename, fsync dir.
Status WriteFileAtomic(const std::string& path, const std::string& contents);

Result<std::string> ReadSmallFile(const std::string& path);

}  // namespace ckpt
