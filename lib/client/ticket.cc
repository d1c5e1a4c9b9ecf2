#include "client/ticket_state.h"

namespace ckpt {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void Ticket::State::SetIssued(std::shared_ptr<CopyFence> f) {
  {
    std::lock_guard<std::mutex> lock(mu);
    issued = true;
    fence = std::move(f);
  }
  cv.notify_all();
}

void Ticket::State::SetCopied() {
  {
    std::lock_guard<std::mutex> lock(mu);
    copied = true;
    copy_seconds = SecondsSince(requested);
  }
  cv.notify_all();
}

void Ticket::State::SetDurable(const CheckpointStats& s) {
  {
    std::lock_guard<std::mutex> lock(mu);
    stats = s;
    stats.copy_seconds = copy_seconds;
    stats.durable_seconds = SecondsSince(requested);
    durable = true;
  }
  cv.notify_all();
}

void Ticket::State::Fail(const Status& e) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (failed || durable) return;
    failed = true;
    error = e;
  }
  cv.notify_all();
}

Ticket::Ticket(std::shared_ptr<State> state) : state_(std::move(state)) {}

uint64_t Ticket::step() const { return state_->step; }

Status Ticket::wait_copied() const {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->copied || state_->failed; });
  return state_->failed ? state_->error : Status::OK();
}

Status Ticket::guard(CUstream_st* stream) const {
  if (stream != nullptr && !state_->accepts_streams)
    return Status::InvalidArgument("guard: a CUDA stream was given, but this client has no CUDA backend; "
                                   "pass a null stream");
  std::shared_ptr<CopyFence> fence;
  {
    std::unique_lock<std::mutex> lock(state_->mu);
    // Issuing the last chunk needs staging slots: immediate when the pool
    // holds the whole checkpoint, later when chunks flow through it.
    state_->cv.wait(lock, [&] { return state_->issued || state_->copied || state_->failed; });
    if (state_->failed) return state_->error;
    if (state_->copied) return Status::OK();  // every copy has completed
    if (!state_->fence) {
      // The copy failed part-way: wait until the copies that were issued are
      // done, so that nothing reads the regions any more.
      state_->cv.wait(lock, [&] { return state_->copied || state_->failed; });
      return state_->failed ? state_->error : Status::OK();
    }
    fence = state_->fence;
  }
  CKPT_RETURN_IF_ERROR(fence->OrderAfter(stream));
  if (stream != nullptr) return Status::OK();
  // No stream: the host has waited for the last copy. Wait the moment more
  // until the copier has marked the ticket copied, so that copied() and
  // wait_copied() agree with what guard() just promised.
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->copied || state_->failed; });
  return state_->failed ? state_->error : Status::OK();
}

Status Ticket::wait_durable() const {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->durable || state_->failed; });
  return state_->failed ? state_->error : Status::OK();
}

bool Ticket::copied() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->copied;
}

bool Ticket::durable() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->durable;
}

bool Ticket::finished() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->durable || state_->failed;
}

Status Ticket::status() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->failed ? state_->error : Status::OK();
}

CheckpointStats Ticket::stats() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->stats;
}

}  // namespace ckpt
