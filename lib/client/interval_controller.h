// IntervalController: the client's side of the interval policy. It keeps the
// job's session in the store's job profile (a session found open at the
// next start is a failure), measures the step time, the checkpoint cost C
// (CostMeter) and the restart cost R, stores them in the job's profile, and
// answers should_checkpoint() from checkpoint_every_steps or from the
// configured IntervalPolicy over the job's failure history.
//
// Restart cost R: from the failure to the first step after a restore. The
// failure's time is the newest failure recorded by ckptd, a user or a trace
// import after the restored checkpoint was taken and before this client
// opened; without one, the client's open (R then misses the time before the
// process started).
//
// Thread safety: all methods may be called concurrently (one mutex).
// Errors of the store while recording costs are reported on stderr once and
// never fail a step: the policy then works with what it has.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/env.h"
#include "ckpt/options.h"
#include "ckpt/policy.h"
#include "ckpt/store.h"
#include "client/cost_meter.h"

namespace ckpt {

class IntervalController {
 public:
  // kInvalidArgument for an unusable interval_policy, or both it and
  // checkpoint_every_steps set.
  static Status ValidateOptions(const Options& options);

  // Marks the job's session open in the store (recording the failure of a
  // previous session that never closed). `options` must have passed
  // ValidateOptions. `clock` tells the time; not owned.
  static Result<std::unique_ptr<IntervalController>> Open(const Options& options,
                                                          std::shared_ptr<Store> store,
                                                          Env* clock);
  // Closes the session (clean close) and saves the step time.
  ~IntervalController();

  // The failure found at Open: the previous session of the job did not close.
  const std::optional<FailureEvent>& detected_failure() const { return detected_failure_; }

  void OnCheckpoint(uint64_t step, const Ticket& ticket);
  void OnRestored(uint64_t step);
  bool ShouldCheckpoint(uint64_t step);

  // The interval the policy chose last, in seconds and in steps (0 before).
  double interval_s() const;
  uint64_t interval_steps() const;

 private:
  IntervalController(const Options& options, std::shared_ptr<Store> store, Env* clock,
                     std::unique_ptr<policy::IntervalPolicy> policy);
  double NowS() const;
  bool CheckpointInFlightLocked();
  void RecordLocked(double now_s, std::optional<double> cost_s);
  void RecomputeLocked(double now_s);
  void Warn(const Status& s);

  const Options options_;
  const std::shared_ptr<Store> store_;
  Env* const clock_;
  std::unique_ptr<policy::IntervalPolicy> policy_;  // null: fixed steps only
  std::optional<FailureEvent> detected_failure_;
  const double opened_s_;

  mutable std::mutex mu_;
  CostMeter meter_;
  std::vector<Ticket> in_flight_;
  std::optional<uint64_t> last_checkpoint_step_;  // or the first step seen
  bool recompute_ = true;
  double interval_s_ = 0;
  uint64_t interval_steps_ = 0;
  std::optional<double> restart_from_s_;  // R is measured at the next step
  double last_alive_saved_s_ = 0;
  bool warned_ = false;
};

}  // namespace ckpt
