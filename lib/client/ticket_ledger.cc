#include "client/ticket_ledger.h"

#include "client/ticket_state.h"

namespace ckpt {

void TicketLedger::Add(std::shared_ptr<Ticket::State> state) {
  std::lock_guard<std::mutex> lock(mu_);
  if (outstanding_.size() >= 64) {
    std::vector<std::shared_ptr<Ticket::State>> keep;
    for (const auto& s : outstanding_) {
      Ticket t(s);
      if (!t.finished()) keep.push_back(s);
      else if (unreported_.ok() && !t.status().ok()) unreported_ = t.status();
    }
    outstanding_.swap(keep);
  }
  outstanding_.push_back(std::move(state));
}

Status TicketLedger::Flush() {
  std::vector<std::shared_ptr<Ticket::State>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting.swap(outstanding_);
  }
  Status first;
  for (const auto& s : waiting) {
    Status r = Ticket(s).wait_durable();
    if (first.ok() && !r.ok()) first = r;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (first.ok() && !unreported_.ok()) first = unreported_;
  unreported_ = Status::OK();
  return first;
}

void TicketLedger::WaitIdle() {
  std::vector<std::shared_ptr<Ticket::State>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting = outstanding_;
  }
  for (const auto& s : waiting) (void)Ticket(s).wait_durable();
}

}  // namespace ckpt
