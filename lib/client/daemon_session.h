// Daemon mode of the client (Options::daemon_socket): the same API as the
// embedded engine, with the engine in ckptd.
//
// On Open the client attaches its job to the daemon (docs/protocol.md) and
// maps the staging pool the daemon created (a memfd passed over the socket;
// pinned with cudaHostRegister through the copy engine when a device region
// is protected). Its copier thread copies regions into the pool's slots
// exactly as in embedded mode and tells the daemon which chunk each slot
// holds; the daemon hashes, compresses, writes and commits. A ticket is
// "copied" once the daemon has been told that every chunk is staged: from
// then on the checkpoint is committed even if this process dies.
// Region shapes and the user-state blob travel with Begin (protocol v2) and
// are stored in the manifest by the daemon as in embedded mode; a restore
// gets the checkpoint's user state back with RestoreDone.
// Restore is decoded by the daemon into the pool and copied out here.
//
// Errors: when the daemon goes away, tickets in flight and every later call
// fail with kAborted naming the socket.
//
// Thread safety: like Client (calls serialized internally).
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "client/copy_engine.h"
#include "client/staging_pool.h"
#include "client/ticket_ledger.h"
#include "ipc/channel.h"
#include "util/blocking_queue.h"

namespace ckpt {

class DaemonSession {
 public:
  // Connects to options.daemon_socket and attaches options.job. kNotFound
  // when no daemon listens there; the daemon's refusal (another uid owns the
  // job: kFailedPrecondition; the job is attached elsewhere: kBusy) as is.
  static Result<std::unique_ptr<DaemonSession>> Open(const Options& options);
  // Waits for checkpoints in flight, then closes the session cleanly.
  ~DaemonSession();

  // `shape` was checked against the size by the caller (Client::protect).
  Status Protect(const std::string& name, void* data, size_t bytes, ElementType type,
                 std::optional<Shape> shape);
  std::vector<ProtectedRegion> Regions() const;
  Result<Ticket> Checkpoint(uint64_t step, CUstream_st* stream, std::string user_state);
  Result<uint64_t> Restore(std::optional<uint64_t> step);
  // The user state of the checkpoint the last successful Restore read.
  std::string RestoredUserState() const;
  std::optional<uint64_t> LatestStep();
  // What the daemon's store holds for this job's `step` (Store::Get).
  Result<CheckpointInfo> Info(uint64_t step);
  Status Flush();
  const Options& options() const { return options_; }

 private:
  struct Region {
    std::string name;
    uint8_t* data = nullptr;
    size_t bytes = 0;
    ElementType type = ElementType::kBytes;
    MemoryLocation location;
    std::optional<Shape> shape;
  };
  struct Request {
    std::shared_ptr<Ticket::State> state;
    std::vector<Region> regions;
    std::shared_ptr<SnapshotPoint> point;
    std::string user_state;  // sent with Begin
  };

  DaemonSession(const Options& options, std::unique_ptr<ipc::Channel> channel,
                std::unique_ptr<StagingPool> pool, std::unique_ptr<CopyEngine> engine);
  void CopyLoop();
  void ReceiveLoop();
  void CopyRequest(Request& request);
  Status Broken() const;
  // The next reply to a synchronous request (restore, latest step, close).
  Result<ipc::Message> NextReply();
  std::vector<ipc::RegionEntry> Table(const std::vector<Region>& regions) const;

  const Options options_;
  const std::unique_ptr<ipc::Channel> channel_;
  std::unique_ptr<StagingPool> pool_;
  std::unique_ptr<CopyEngine> copy_engine_;  // destroyed before the pool (unpins it)

  std::mutex rpc_mu_;  // one synchronous request (restore, latest step) at a time
  mutable std::mutex mu_;
  std::vector<Region> regions_;
  bool staging_pinned_ = false;
  TicketLedger tickets_;  // for Flush and Restore
  std::string restored_user_state_;  // of the last successful Restore
  std::deque<std::shared_ptr<Ticket::State>> awaiting_daemon_;  // Begin sent, no Durable/Failed yet
  Status broken_;

  BlockingQueue<Request> requests_;
  BlockingQueue<ipc::Message> replies_;
  std::thread copier_;
  std::thread receiver_;
};

}  // namespace ckpt
