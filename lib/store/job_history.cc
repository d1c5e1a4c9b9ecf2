#include "store/job_history.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "engine/manifest.h"
#include "util/coding.h"

namespace ckpt {
namespace {

constexpr char kFailurePrefix = 'H';
constexpr char kProfilePrefix = 'J';
constexpr uint8_t kFailureVersion = 1;
constexpr uint8_t kProfileVersion = 1;
// The weight of a new cost sample never drops below 1/16: the mean follows
// a job whose costs change (a bigger model, a slower disk).
constexpr double kMaxCostSamplesAveraged = 16;

void PutDouble(std::string* out, double v) { coding::PutU64(out, std::bit_cast<uint64_t>(v)); }
double GetDouble(coding::Reader* in) { return std::bit_cast<double>(in->U64()); }

void PutCost(std::string* out, const CostSummary& c) {
  coding::PutU64(out, c.samples);
  PutDouble(out, c.mean_s);
  PutDouble(out, c.last_s);
}

CostSummary GetCost(coding::Reader* in) {
  CostSummary c;
  c.samples = in->U64();
  c.mean_s = GetDouble(in);
  c.last_s = GetDouble(in);
  return c;
}

bool ValidCost(const CostSummary& c) {
  return std::isfinite(c.mean_s) && c.mean_s >= 0 && std::isfinite(c.last_s) && c.last_s >= 0;
}

}  // namespace

const char* FailureSourceName(FailureSource source) {
  switch (source) {
    case FailureSource::kReported: return "reported";
    case FailureSource::kDaemon: return "daemon";
    case FailureSource::kImported: return "imported";
    case FailureSource::kClient: return "client";
  }
  return "unknown";
}

void AddCostSample(CostSummary* summary, double seconds) {
  summary->samples += 1;
  const double weight =
      1.0 / std::min(static_cast<double>(summary->samples), kMaxCostSamplesAveraged);
  summary->mean_s += weight * (seconds - summary->mean_s);
  summary->last_s = seconds;
}

std::string FailurePrefix(const std::string& job) {
  std::string k(1, kFailurePrefix);
  if (!job.empty()) {
    k.append(job);
    k.push_back('\0');
  }
  return k;
}

std::string FailureKey(const std::string& job, int64_t time_unix_us) {
  std::string k = FailurePrefix(job);
  coding::PutBigEndian64(&k, static_cast<uint64_t>(time_unix_us));
  return k;
}

std::string EncodeFailure(const FailureEvent& event) {
  std::string v;
  coding::PutU8(&v, kFailureVersion);
  coding::PutU8(&v, static_cast<uint8_t>(event.source));
  coding::PutBytes(&v, event.cause);
  return v;
}

Result<FailureEvent> DecodeFailure(std::string_view key, std::string_view value) {
  // H <job> \0 <8 bytes>
  const size_t nul = key.find('\0', 1);
  if (key.empty() || key[0] != kFailurePrefix || nul == std::string_view::npos ||
      key.size() != nul + 1 + 8)
    return Status::Corruption("bad failure key");
  FailureEvent e;
  e.job = std::string(key.substr(1, nul - 1));
  e.time_unix_us = static_cast<int64_t>(coding::GetBigEndian64(key.data() + nul + 1));
  coding::Reader in(value);
  const uint8_t version = in.U8();
  const uint8_t source = in.U8();
  e.cause = std::string(in.LengthPrefixed());
  if (in.failed() || in.remaining() != 0) return Status::Corruption("bad failure record");
  if (version != kFailureVersion)
    return Status::Unsupported("failure record version " + std::to_string(version));
  if (source < static_cast<uint8_t>(FailureSource::kReported) ||
      source > static_cast<uint8_t>(FailureSource::kClient))
    return Status::Corruption("failure record with unknown source " + std::to_string(source));
  e.source = static_cast<FailureSource>(source);
  return e;
}

std::string JobProfileKey(const std::string& job) { return std::string(1, kProfilePrefix) + job; }

std::string EncodeJobProfile(const JobProfile& p) {
  std::string v;
  coding::PutU8(&v, kProfileVersion);
  coding::PutU64(&v, p.nodes);
  coding::PutU64(&v, static_cast<uint64_t>(p.first_seen_unix_us));
  PutCost(&v, p.checkpoint_cost);
  PutCost(&v, p.restart_cost);
  PutDouble(&v, p.step_s);
  coding::PutU8(&v, p.session_open ? 1 : 0);
  coding::PutU64(&v, static_cast<uint64_t>(p.last_alive_unix_us));
  return v;
}

Result<JobProfile> DecodeJobProfile(const std::string& job, std::string_view value) {
  coding::Reader in(value);
  const uint8_t version = in.U8();
  if (!in.failed() && version != kProfileVersion)
    return Status::Unsupported("job profile version " + std::to_string(version));
  JobProfile p;
  p.job = job;
  p.nodes = in.U64();
  p.first_seen_unix_us = static_cast<int64_t>(in.U64());
  p.checkpoint_cost = GetCost(&in);
  p.restart_cost = GetCost(&in);
  p.step_s = GetDouble(&in);
  const uint8_t open = in.U8();
  p.last_alive_unix_us = static_cast<int64_t>(in.U64());
  if (in.failed() || in.remaining() != 0 || open > 1 || !ValidCost(p.checkpoint_cost) ||
      !ValidCost(p.restart_cost) || !std::isfinite(p.step_s) || p.step_s < 0)
    return Status::Corruption("bad profile record of job " + job);
  p.session_open = open == 1;
  return p;
}

Status ValidateFailure(const FailureEvent& event) {
  CKPT_RETURN_IF_ERROR(ValidateJobName(event.job));
  if (event.time_unix_us <= 0)
    return Status::InvalidArgument("failure time must be after the Unix epoch, not " +
                                   std::to_string(event.time_unix_us) + " us");
  if (event.cause.size() > kMaxFailureCauseBytes)
    return Status::InvalidArgument("failure cause is " + std::to_string(event.cause.size()) +
                                   " bytes; at most " + std::to_string(kMaxFailureCauseBytes));
  if (event.source < FailureSource::kReported || event.source > FailureSource::kClient)
    return Status::InvalidArgument("unknown failure source");
  return Status::OK();
}

}  // namespace ckpt
