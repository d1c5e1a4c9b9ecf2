// TicketLedger: the checkpoints a client has requested and not yet reported,
// for flush() and for a restore that must not race a commit. Shared by the
// embedded client (client.cc) and daemon mode (daemon_session.cc).
//
// Thread safety: all methods may be called concurrently (one internal mutex,
// never held while waiting on a ticket).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/status.h"

namespace ckpt {

class TicketLedger {
 public:
  // Records a requested checkpoint. Every 64 entries, finished ones are
  // dropped; the first error among them is kept for the next Flush().
  void Add(std::shared_ptr<Ticket::State> state);

  // Waits until every recorded checkpoint is durable or failed and forgets
  // them; returns the first error since the last Flush().
  Status Flush();

  // Waits until every recorded checkpoint is durable or failed, keeping
  // them (and their errors) for the next Flush().
  void WaitIdle();

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<Ticket::State>> outstanding_;
  Status unreported_;
};

}  // namespace ckpt
