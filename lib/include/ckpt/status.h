// ckpt/status.h: the error type of every public call.
//
// A Status is either OK or carries a code and a human-readable message that
// names what failed (path, job, step, region, chunk). Functions that produce a
// value return Result<T>, which holds either the value or a non-OK Status.
// No public function throws; no error is swallowed.
//
// Thread safety: Status and Result are plain values; distinct objects may be
// used from distinct threads without synchronization.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace ckpt {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,     // the caller passed something unusable (bad flag, size, name)
    kNotFound,            // no such job, step, region or file
    kAlreadyExists,       // e.g. a region name protected twice
    kCorruption,          // stored bytes fail their checksum or cannot be decoded
    kIOError,             // the operating system refused an I/O call
    kNoSpace,             // the filesystem is full (ENOSPC, EDQUOT)
    kBusy,                // another process holds the store
    kFailedPrecondition,  // the call is valid but not in this state (e.g. nothing protected)
    kUnsupported,         // a format version or feature this build does not know
    kAborted,             // the operation was cancelled (client closing, concurrent GC)
  };

  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status Busy(std::string m) { return {Code::kBusy, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status Unsupported(std::string m) { return {Code::kUnsupported, std::move(m)}; }
  static Status Aborted(std::string m) { return {Code::kAborted, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }

  // "OK" or "<code name>: <message>".
  std::string ToString() const;

  // The same code with "context: " put in front of the message.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code code);

// Either a T or a non-OK Status. Accessing value() of an error is a bug
// (asserted in debug builds).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "Result built from an OK status has no value");
    if (status_.ok()) status_ = Status(Status::Code::kAborted, "Result without value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace ckpt

// Propagates a non-OK Status out of the enclosing function.
#define CKPT_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::ckpt::Status _ckpt_status = (expr);        \
    if (!_ckpt_status.ok()) return _ckpt_status; \
  } while (0)
