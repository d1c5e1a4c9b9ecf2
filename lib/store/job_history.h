// The failure history and job profiles kept in the catalog beside the
// checkpoints (keys H and J, docs/format.md). Encoding only: Store (store.cc)
// serializes the read-modify-writes.
#pragma once

#include <string>
#include <string_view>

#include "ckpt/status.h"
#include "ckpt/store.h"

namespace ckpt {

// H <job> \0 <time_unix_us BE64>: sorts a job's failures by time.
std::string FailureKey(const std::string& job, int64_t time_unix_us);
// The prefix of every failure key of `job`, or of every job when empty.
std::string FailurePrefix(const std::string& job);
std::string EncodeFailure(const FailureEvent& event);
// `key` gives job and time; kCorruption for a malformed key or value.
Result<FailureEvent> DecodeFailure(std::string_view key, std::string_view value);

// J <job>
std::string JobProfileKey(const std::string& job);
std::string EncodeJobProfile(const JobProfile& profile);
Result<JobProfile> DecodeJobProfile(const std::string& job, std::string_view value);

// kInvalidArgument naming what is wrong with an event to record.
Status ValidateFailure(const FailureEvent& event);

}  // namespace ckpt
