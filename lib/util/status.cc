#include "ckpt/status.h"

namespace ckpt {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kInvalidArgument: return "invalid argument";
    case Status::Code::kNotFound: return "not found";
    case Status::Code::kAlreadyExists: return "already exists";
    case Status::Code::kCorruption: return "corruption";
    case Status::Code::kIOError: return "I/O error";
    case Status::Code::kNoSpace: return "no space left";
    case Status::Code::kBusy: return "busy";
    case Status::Code::kFailedPrecondition: return "failed precondition";
    case Status::Code::kUnsupported: return "unsupported";
    case Status::Code::kAborted: return "aborted";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace ckpt
