// One client connection of ckptd: a job attached over the socket.
//
// The reader thread receives and validates every message; a checkpoint's
// staged chunks go to the processor thread, which runs the same
// CheckpointWriter as embedded mode and answers SlotFree, Durable and
// Failed. Malformed input ends this session only (logged with its reason).
// When the connection ends, checkpoints whose copy was complete (CopyDone
// received) are still committed before the session goes away.
//
// Thread safety: Start/Join/Drain/finished/StatusJson from the server's
// threads; everything else runs on the session's own threads.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/staging_pool.h"
#include "engine/checkpoint_writer.h"
#include "ipc/channel.h"
#include "util/blocking_queue.h"

namespace ckpt::daemon {

class Server;

class Session {
 public:
  Session(Server* server, std::unique_ptr<ipc::Channel> channel, ucred peer, uint64_t id);
  ~Session();

  void Start();
  void Join();
  bool finished() const;
  // True once the session's client is gone (closed, died, or hung up and
  // not yet noticed by the session's thread): it is finishing the
  // checkpoints whose copy completed and will detach.
  bool ending() const;
  // Waits until no checkpoint is in flight or `deadline` passed, then ends
  // the connection (the daemon is shutting down).
  void Drain(std::chrono::steady_clock::time_point deadline);
  // Null when no job is attached.
  nlohmann::json StatusJson() const;
  uid_t uid() const { return peer_.uid; }

 private:
  struct WorkItem {
    enum Kind { kBegin, kChunk, kEnd } kind = kBegin;
    uint64_t step = 0;
    std::vector<RegionLayout> layout;  // kBegin
    size_t region = 0;
    size_t index = 0;
    uint32_t slot = 0;
    size_t size = 0;
    Status copy_status;  // kEnd
    std::string user_state;  // kBegin
  };

  void ReaderLoop();
  // Handles one message. A non-OK status ends the session as a protocol
  // violation; *done ends it cleanly.
  Status Handle(const ipc::Message& m, bool* done);
  Status OnHello(const ipc::Hello& m);
  Status OnBegin(const ipc::Begin& m);
  Status OnChunkStaged(const ipc::ChunkStaged& m);
  Status OnCopyDone(const ipc::CopyDone& m);
  Status OnRestore(const ipc::Restore& m);
  Status OnInfoQuery(const ipc::InfoQuery& m);
  // Restores one step and sets *user_state to its user state; a non-OK
  // result with *fatal set is a protocol violation.
  Status RestoreStep(uint64_t step, const std::vector<ipc::RegionEntry>& regions, std::string* user_state,
                     bool* fatal);
  // Waits for a RestoreAck of a slot in `busy`, frees it.
  Status AwaitAck(std::vector<bool>* busy, size_t* outstanding);
  void WaitIdle();
  void ProcessLoop();
  void EndSession(const std::string& cause, bool clean);

  Server* const server_;
  const std::unique_ptr<ipc::Channel> channel_;
  const ucred peer_;
  const uint64_t id_;
  const std::chrono::system_clock::time_point connected_;
  std::thread reader_;
  std::thread processor_;

  // Set by the reader once attached; read-only afterwards.
  std::atomic<bool> ending_{false};
  bool attached_ = false;
  std::string job_;
  uint64_t chunk_bytes_ = 0;
  std::unique_ptr<StagingPool> pool_;
  std::unique_ptr<CheckpointWriter> writer_;  // processor thread only

  // Reader thread: the checkpoint whose copy is in progress.
  bool copy_open_ = false;
  uint64_t copy_step_ = 0;
  std::vector<ipc::RegionEntry> copy_regions_;
  std::vector<std::vector<bool>> staged_;
  std::vector<uint64_t> staged_count_;

  BlockingQueue<WorkItem> work_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> slot_held_;  // by the daemon, between ChunkStaged and SlotFree
  bool copy_in_progress_ = false;  // mirrors copy_open_ for Drain/status
  size_t in_flight_ = 0;           // checkpoints queued and not yet finished
  bool handling_ = false;          // the reader is handling a message
  bool finished_ = false;
  // Figures for `ckpt status`.
  uint64_t committed_ = 0;
  uint64_t failed_ = 0;
  uint64_t staged_bytes_ = 0;
  uint64_t logical_bytes_ = 0;
  uint64_t written_bytes_ = 0;
  double busy_seconds_ = 0;
  bool has_last_step_ = false;
  uint64_t last_step_ = 0;
};

}  // namespace ckpt::daemon
