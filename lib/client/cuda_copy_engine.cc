// The CUDA copy engine: a thin adapter from client/copy_engine.h to the CUDA
// runtime. Per device, one non-blocking copy stream. Per checkpoint, the copy
// streams wait on the event the caller's stream recorded in checkpoint(); each
// chunk is one cudaMemcpyAsync into pinned staging memory followed by one
// event; a completion thread waits on those events in issue order (one stream
// per device completes in order) and reports each chunk as soon as it landed,
// so the engine hashes and writes it while later chunks are still in flight.
//
// Host-resident regions (pageable or pinned) are copied with memcpy on the
// copier thread once the caller's stream has reached the checkpoint's event.
//
// Without a usable GPU (cudaGetDeviceCount fails, e.g. with
// cudaErrorInsufficientDriver when there is no driver, or finds no device),
// every region is host memory and the engine behaves like the host engine;
// asking for a stream-ordered checkpoint then fails with "no CUDA device".
#include <cuda_runtime_api.h>

#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/copy_engine.h"
#include "util/blocking_queue.h"

namespace ckpt {
namespace {

std::string CudaErrorText(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

Status CudaStatus(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return Status::OK();
  (void)cudaGetLastError();  // clear a non-sticky error
  return Status::IOError(what + ": " + CudaErrorText(e));
}

struct Probe {
  int devices = 0;
  std::string why_none;  // when devices == 0
};

// Whether a GPU is usable, asked once per process. Any error from
// cudaGetDeviceCount means "no GPU".
const Probe& GetProbe() {
  static const Probe probe = [] {
    Probe p;
    const cudaError_t e = cudaGetDeviceCount(&p.devices);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      p.devices = 0;
      p.why_none = CudaErrorText(e);
    } else if (p.devices == 0) {
      p.why_none = "cudaGetDeviceCount found no device";
    }
    return p;
  }();
  return probe;
}

// Makes `device` current for the calling thread and restores the previous
// current device when it goes out of scope (the caller's threads keep theirs).
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
    if (previous_ != device) error_ = cudaSetDevice(device);
  }
  ~DeviceScope() {
    if (previous_ >= 0 && error_ == cudaSuccess) (void)cudaSetDevice(previous_);
  }
  cudaError_t error() const { return error_; }

 private:
  int previous_ = -1;
  cudaError_t error_ = cudaSuccess;
};

class CudaPoint final : public SnapshotPoint {
 public:
  explicit CudaPoint(cudaEvent_t event) : event_(event) {}
  ~CudaPoint() override { (void)cudaEventDestroy(event_); }
  cudaEvent_t event() const { return event_; }

 private:
  cudaEvent_t event_;
};

class CudaFence final : public CopyFence {
 public:
  explicit CudaFence(std::vector<cudaEvent_t> events) : events_(std::move(events)) {}
  ~CudaFence() override {
    for (cudaEvent_t e : events_) (void)cudaEventDestroy(e);
  }
  Status OrderAfter(CUstream_st* stream) override {
    for (cudaEvent_t e : events_)
      CKPT_RETURN_IF_ERROR(CudaStatus(cudaStreamWaitEvent(stream, e, 0), "guard: cudaStreamWaitEvent"));
    return Status::OK();
  }

 private:
  std::vector<cudaEvent_t> events_;  // one per device whose copy stream was used
};

class CudaCopyEngine final : public CopyEngine {
 public:
  CudaCopyEngine() : completer_([this] { CompleteLoop(); }) {}

  ~CudaCopyEngine() override {
    completions_.Close();
    completer_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [device, d] : devices_) {
      DeviceScope scope(device);
      for (cudaEvent_t e : d.free_events) (void)cudaEventDestroy(e);
      (void)cudaStreamDestroy(d.stream);
    }
    if (pinned_ != nullptr) (void)cudaHostUnregister(pinned_);
  }

  Result<MemoryLocation> Locate(const void* p, size_t bytes) override {
    if (GetProbe().devices == 0 || p == nullptr) return MemoryLocation{};
    const MemoryLocation first = LocateOne(p);
    if (bytes > 1) {
      const MemoryLocation last = LocateOne(static_cast<const uint8_t*>(p) + bytes - 1);
      if (last.kind != first.kind || last.device != first.device)
        return Status::InvalidArgument("the region starts in " + std::string(MemoryKindName(first.kind)) +
                                       " memory but ends in " + std::string(MemoryKindName(last.kind)) +
                                       " memory; a region must be one allocation");
    }
    return first;
  }

  Status PinStaging(void* base, size_t bytes) override {
    if (GetProbe().devices == 0) return Status::OK();
    std::lock_guard<std::mutex> lock(mu_);
    if (pinned_ != nullptr) return Status::OK();
    CKPT_RETURN_IF_ERROR(CudaStatus(cudaHostRegister(base, bytes, cudaHostRegisterPortable),
                                    "pin " + std::to_string(bytes) + " bytes of staging memory (cudaHostRegister)"));
    pinned_ = base;
    return Status::OK();
  }

  Result<std::shared_ptr<SnapshotPoint>> Mark(CUstream_st* stream, bool device_regions) override {
    if (stream == nullptr && !device_regions) return std::shared_ptr<SnapshotPoint>();
    if (GetProbe().devices == 0)
      return Status::FailedPrecondition("checkpoint on a CUDA stream: no CUDA device: " + GetProbe().why_none);
    int device = 0;
    if (stream != nullptr) {
      CKPT_RETURN_IF_ERROR(CudaStatus(cudaStreamGetDevice(stream, &device), "checkpoint: cudaStreamGetDevice"));
    } else {
      CKPT_RETURN_IF_ERROR(CudaStatus(cudaGetDevice(&device), "checkpoint: cudaGetDevice"));
    }
    DeviceScope scope(device);
    CKPT_RETURN_IF_ERROR(CudaStatus(scope.error(), "checkpoint: cudaSetDevice"));
    cudaEvent_t event = nullptr;
    CKPT_RETURN_IF_ERROR(CudaStatus(
        cudaEventCreateWithFlags(&event, cudaEventDisableTiming | cudaEventBlockingSync),
        "checkpoint: cudaEventCreate"));
    auto point = std::make_shared<CudaPoint>(event);
    CKPT_RETURN_IF_ERROR(CudaStatus(cudaEventRecord(event, stream), "checkpoint: cudaEventRecord"));
    return std::shared_ptr<SnapshotPoint>(std::move(point));
  }

  Status BeginSnapshot(std::shared_ptr<SnapshotPoint> point) override {
    point_ = std::static_pointer_cast<CudaPoint>(std::move(point));
    waiting_.clear();
    used_.clear();
    host_synced_ = false;
    return Status::OK();
  }

  void CopyToStaging(const void* src, MemoryLocation where, void* dst, size_t size,
                     std::optional<ChunkDigest>* digest, Done done) override {
    if (host_addressable(where)) {
      // The caller's stream may still be writing this memory (pinned host
      // memory is device-visible): copy once it reached the snapshot point.
      if (point_ && !host_synced_) {
        Status s = CudaStatus(cudaEventSynchronize(point_->event()),
                              "wait for the caller's stream to reach checkpoint()");
        if (!s.ok()) return done(s);
        host_synced_ = true;
      }
      if (digest != nullptr) CopyAndDigest(dst, src, size, &digest->emplace());
      else std::memcpy(dst, src, size);
      return done(Status::OK());
    }
    DeviceScope scope(where.device);
    Device* d = nullptr;
    Status s = CudaStatus(scope.error(), "cudaSetDevice(" + std::to_string(where.device) + ")");
    if (s.ok()) s = GetDevice(where.device, &d);
    if (s.ok() && point_ && !waiting_.count(where.device)) {
      s = CudaStatus(cudaStreamWaitEvent(d->stream, point_->event(), 0), "copy stream: cudaStreamWaitEvent");
      if (s.ok()) waiting_.insert(where.device);
    }
    if (s.ok()) {
      s = CudaStatus(cudaMemcpyAsync(dst, src, size, cudaMemcpyDefault, d->stream),
                     "device " + std::to_string(where.device) + ": cudaMemcpyAsync to staging");
    }
    if (s.ok()) used_.insert(where.device);
    Enqueue(where.device, d, std::move(s), std::move(done));
  }

  Result<std::shared_ptr<CopyFence>> EndSnapshot() override {
    std::vector<cudaEvent_t> events;
    Status s;
    for (int device : used_) {
      DeviceScope scope(device);
      Device* d = nullptr;
      s = GetDevice(device, &d);
      cudaEvent_t e = nullptr;
      if (s.ok()) s = CudaStatus(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
      if (!s.ok()) break;
      events.push_back(e);
      s = CudaStatus(cudaEventRecord(e, d->stream), "copy stream: cudaEventRecord");
      if (!s.ok()) break;
    }
    point_.reset();
    auto fence = std::make_shared<CudaFence>(std::move(events));  // destroys them on error
    if (!s.ok()) return s;
    return std::shared_ptr<CopyFence>(std::move(fence));
  }

  void CopyFromStaging(const void* src, void* dst, MemoryLocation where, size_t size, Done done) override {
    if (host_addressable(where)) {
      std::memcpy(dst, src, size);
      return done(Status::OK());
    }
    DeviceScope scope(where.device);
    Device* d = nullptr;
    Status s = CudaStatus(scope.error(), "cudaSetDevice(" + std::to_string(where.device) + ")");
    if (s.ok()) s = GetDevice(where.device, &d);
    if (s.ok()) {
      s = CudaStatus(cudaMemcpyAsync(dst, src, size, cudaMemcpyDefault, d->stream),
                     "device " + std::to_string(where.device) + ": cudaMemcpyAsync from staging");
    }
    Enqueue(where.device, d, std::move(s), std::move(done));
  }

  bool host_addressable(MemoryLocation where) const override {
    return where.kind == MemoryKind::kHost || where.kind == MemoryKind::kPinnedHost;
  }
  bool accepts_streams() const override { return true; }
  std::string_view name() const override { return "cuda"; }

 private:
  struct Device {
    cudaStream_t stream = nullptr;
    std::vector<cudaEvent_t> free_events;  // chunk events, recycled
  };
  struct Pending {
    cudaEvent_t event = nullptr;
    int device = -1;
    Done done;
  };

  static MemoryLocation LocateOne(const void* p) {
    cudaPointerAttributes a{};
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
      (void)cudaGetLastError();
      return MemoryLocation{};  // unknown to CUDA: pageable host memory
    }
    switch (a.type) {
      case cudaMemoryTypeHost:
        return {MemoryKind::kPinnedHost, -1};
      case cudaMemoryTypeDevice:
        return {MemoryKind::kDevice, a.device};
      case cudaMemoryTypeManaged:
        return {MemoryKind::kManaged, a.device};
      case cudaMemoryTypeUnregistered:
        break;
    }
    return MemoryLocation{};
  }

  // The copy stream of `device`, created on first use. The device must be
  // current.
  Status GetDevice(int device, Device** out) {
    std::lock_guard<std::mutex> lock(mu_);
    Device& d = devices_[device];
    if (d.stream == nullptr)
      CKPT_RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking),
                                      "device " + std::to_string(device) + ": create the copy stream"));
    *out = &d;
    return Status::OK();
  }

  // Records the chunk's event after the copy just issued on d->stream and
  // hands it to the completion thread; or reports `s` at once.
  void Enqueue(int device, Device* d, Status s, Done done) {
    cudaEvent_t event = nullptr;
    const bool issued = s.ok();
    if (s.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!d->free_events.empty()) {
          event = d->free_events.back();
          d->free_events.pop_back();
        }
      }
      if (event == nullptr)
        s = CudaStatus(cudaEventCreateWithFlags(&event, cudaEventDisableTiming | cudaEventBlockingSync),
                       "cudaEventCreate");
      if (s.ok()) s = CudaStatus(cudaEventRecord(event, d->stream), "chunk cudaEventRecord");
    }
    if (!s.ok()) {
      if (event != nullptr) (void)cudaEventDestroy(event);
      // The copy was queued but cannot be tracked: wait for the stream, so
      // that `done` never gives back memory a copy may still use.
      if (issued) (void)cudaStreamSynchronize(d->stream);
      return done(s);
    }
    completions_.Push(Pending{event, device, std::move(done)});
  }

  void CompleteLoop() {
    while (auto p = completions_.Pop()) {
      Status s = CudaStatus(cudaEventSynchronize(p->event),
                            "device " + std::to_string(p->device) + ": copy failed");
      {
        std::lock_guard<std::mutex> lock(mu_);
        devices_[p->device].free_events.push_back(p->event);
      }
      p->done(std::move(s));
    }
  }

  std::mutex mu_;
  std::map<int, Device> devices_;  // std::map: pointers stay valid
  void* pinned_ = nullptr;

  // Copier thread only: the snapshot in progress.
  std::shared_ptr<CudaPoint> point_;
  std::set<int> waiting_;  // devices whose copy stream waits on point_
  std::set<int> used_;     // devices with copies in this snapshot
  bool host_synced_ = false;

  BlockingQueue<Pending> completions_;
  std::thread completer_;
};

}  // namespace

std::unique_ptr<CopyEngine> NewCudaCopyEngine() { return std::make_unique<CudaCopyEngine>(); }

}  // namespace ckpt
